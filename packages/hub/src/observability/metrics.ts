/**
 * Prometheus metrics for the hub: implements the pipeline's PipelineMetrics and the live layer's
 * LiveMetrics on one prom-client registry. Every labelled counter starts at 0 for every known label
 * value, so dashboards and alerts see a series before the first event rather than a gap.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REASONS, type ReasonCode } from '@sealstream/protocol';
import { CLIENT_ERROR_KINDS, type ClientErrorKind } from '../http/slow-requests.js';
import type { ConnectionGuardMetrics } from '../ingest/connection-guard.js';
import type { LiveDropKind, LiveMetrics } from '../live/live-metrics.js';
import type { WsLiveMetrics } from '../live/ws-live.js';
import type { PipelineMetrics, SourceKind } from '../pipeline/ports.js';

export const SOURCES: readonly SourceKind[] = ['tcp', 'legacy', 'http', 'mqtt', 'amqp'];
const DROP_KINDS: readonly LiveDropKind[] = ['readings', 'rejects', 'legacy', 'ws'];
const WS_REFUSALS = ['capacity', 'origin', 'auth'] as const;

const BATCH_SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000, 20_000];
const COMMIT_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface CreateMetricsOptions {
  /** Defaults to a fresh registry (never prom-client's global one, so several hubs can share a process). */
  readonly registry?: Registry;
  /** Also collect Node process metrics (CPU, memory, event loop lag), prefixed `sealstream_`. */
  readonly collectDefaultMetrics?: boolean;
}

/** What the hub's rollup-journal timer reports (cli/rollup-flusher.ts). */
export interface RollupMetrics {
  /** Journal rows waiting to be folded, by any hub on the database (gauge). */
  journalRows(count: number): void;
  flushFailed(): void;
  /** Journal rows a flush could not decode and moved to rollup_quarantine. */
  quarantined(count: number): void;
}

/** Which bound of the dead-letter store a pruned letter was beyond (store/dead-letter-retention.ts). */
export type DeadLetterBound = 'age' | 'rows';
const DEAD_LETTER_BOUNDS: readonly DeadLetterBound[] = ['age', 'rows'];

/** What the hub's dead-letter prune timer reports (cli/dead-letter-pruner.ts). */
export interface DeadLetterMetrics {
  pruned(bound: DeadLetterBound, count: number): void;
}

/** What the HTTP server reports about requests broken before a route saw them. */
export interface HttpMetrics {
  clientError(kind: ClientErrorKind): void;
}

export interface HubMetrics {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  readonly pipeline: PipelineMetrics;
  readonly live: LiveMetrics;
  /** The plain-WebSocket live server: its own client gauge, the shared drop/emit/invalid counters. */
  readonly wsLive: WsLiveMetrics;
  readonly rollups: RollupMetrics;
  readonly deadLetters: DeadLetterMetrics;
  readonly connectionGuard: ConnectionGuardMetrics;
}

export function createMetrics(options: Registry | CreateMetricsOptions = {}): HubMetrics {
  const { registry = new Registry(), collectDefaultMetrics: withDefaults = false } =
    options instanceof Registry ? { registry: options } : options;
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'sealstream_' });
  const registers = [registry];

  const accepted = new Counter({
    name: 'sealstream_readings_accepted_total',
    help: 'Readings committed as new rows.',
    labelNames: ['source'] as const,
    registers,
  });
  const duplicate = new Counter({
    name: 'sealstream_readings_duplicate_total',
    help: 'Readings that were already stored (resends and replays of committed readings).',
    labelNames: ['source'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'sealstream_readings_rejected_total',
    help: 'Inputs refused, by reason code.',
    labelNames: ['source', 'reason'] as const,
    registers,
  });
  const batchReadings = new Histogram({
    name: 'sealstream_batch_readings',
    help: 'Readings per successful commit (commits holding only dead letters are not observed).',
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const commitSeconds = new Histogram({
    name: 'sealstream_commit_seconds',
    help: 'Time the store took for one successful commit.',
    buckets: COMMIT_SECONDS_BUCKETS,
    registers,
  });
  const submissionSeconds = new Histogram({
    name: 'sealstream_submission_seconds',
    help: 'Time from a frame, line or request entering the commit queue until it is durable (queue wait plus commit): what a device waits for its acknowledgement beyond decoding.',
    buckets: COMMIT_SECONDS_BUCKETS,
    registers,
  });
  const deadLetters = new Counter({
    name: 'sealstream_dead_letters_total',
    help: 'Dead letters durably stored.',
    registers,
  });
  const commitFailures = new Counter({
    name: 'sealstream_commit_failures_total',
    help: 'Commit attempts the store refused or failed.',
    registers,
  });
  const queueReadings = new Gauge({
    name: 'sealstream_queue_readings',
    help: 'Readings waiting for commit.',
    registers,
  });
  const pausedConnections = new Gauge({
    name: 'sealstream_paused_connections',
    help: 'Ingest connections paused because the writer is behind.',
    registers,
  });
  const connections = new Gauge({
    name: 'sealstream_connections',
    help: 'Open ingest connections.',
    labelNames: ['source'] as const,
    registers,
  });
  const droppedConnections = new Counter({
    name: 'sealstream_connections_dropped_total',
    help: 'New connections closed at once because their listener was at --max-connections.',
    labelNames: ['source'] as const,
    registers,
  });
  const refusedPerAddress = new Counter({
    name: 'sealstream_connections_refused_per_address_total',
    help: 'New connections closed at once because their client address (IPv6: its /64) already held --max-connections-per-address on that listener.',
    labelNames: ['source'] as const,
    registers,
  });
  const reapedConnections = new Counter({
    name: 'sealstream_connections_reaped_total',
    help: 'Unauthenticated or idle connections closed to make room because their listener neared --max-connections.',
    labelNames: ['source'] as const,
    registers,
  });
  const liveClients = new Gauge({
    name: 'sealstream_live_clients',
    help: 'Connected live (Socket.IO) clients.',
    registers,
  });
  const liveDropped = new Counter({
    name: 'sealstream_live_dropped_total',
    help: 'Items a live client should have received but did not (per-tick caps, or skipped while slow), per client.',
    labelNames: ['kind'] as const,
    registers,
  });
  const liveEmits = new Counter({
    name: 'sealstream_live_emits_total',
    help: 'Packets handed to live client transports.',
    registers,
  });
  const liveSendDelay = new Histogram({
    name: 'sealstream_live_send_delay_seconds',
    help: 'Time from the oldest commit a live data send carries until the send (Socket.IO fan-out).',
    buckets: COMMIT_SECONDS_BUCKETS,
    registers,
  });
  const liveInvalid = new Counter({
    name: 'sealstream_live_invalid_requests_total',
    help: 'Malformed or over-limit subscribe/unsubscribe requests ignored.',
    registers,
  });

  const wsClients = new Gauge({
    name: 'sealstream_live_ws_clients',
    help: 'Connected plain-WebSocket live clients (/live/ws).',
    registers,
  });
  const wsRefused = new Counter({
    name: 'sealstream_live_ws_refused_total',
    help: 'Plain-WebSocket live upgrades refused: at the connection bound, origin not allowed, or no valid credential.',
    labelNames: ['cause'] as const,
    registers,
  });
  for (const cause of WS_REFUSALS) wsRefused.inc({ cause }, 0);
  const wsDeadPeers = new Counter({
    name: 'sealstream_live_ws_dead_peers_total',
    help: 'Plain-WebSocket live clients terminated because they did not answer a heartbeat ping.',
    registers,
  });

  const journalRows = new Gauge({
    name: 'sealstream_rollup_journal_rows',
    help: 'Rollup-journal rows (one per commit) not yet folded into the minute rollups.',
    registers,
  });
  const rollupFlushFailures = new Counter({
    name: 'sealstream_rollup_flush_failures_total',
    help: 'Rollup-journal folds that failed (retried on the next tick; nothing is lost).',
    registers,
  });
  const rollupQuarantined = new Counter({
    name: 'sealstream_rollup_quarantined_total',
    help: 'Rollup-journal rows that could not be decoded or whose fold PostgreSQL refused, moved to rollup_quarantine.',
    registers,
  });

  const deadLettersPruned = new Counter({
    name: 'sealstream_dead_letters_pruned_total',
    help: 'Dead letters deleted by the periodic prune: older than --dead-letter-max-age-hours (bound="age") or beyond the newest --dead-letter-max-rows (bound="rows").',
    labelNames: ['bound'] as const,
    registers,
  });
  for (const bound of DEAD_LETTER_BOUNDS) deadLettersPruned.inc({ bound }, 0);

  const httpClientErrors = new Counter({
    name: 'sealstream_http_client_errors_total',
    help: 'HTTP requests closed before a route saw them: too slow (request_timeout), headers too large, or not HTTP.',
    labelNames: ['kind'] as const,
    registers,
  });
  for (const kind of CLIENT_ERROR_KINDS) httpClientErrors.inc({ kind }, 0);

  const reasons = Object.keys(REASONS) as ReasonCode[];
  for (const source of SOURCES) {
    accepted.inc({ source }, 0);
    duplicate.inc({ source }, 0);
    connections.set({ source }, 0);
    droppedConnections.inc({ source }, 0);
    refusedPerAddress.inc({ source }, 0);
    reapedConnections.inc({ source }, 0);
    for (const reason of reasons) rejected.inc({ source, reason }, 0);
  }
  for (const kind of DROP_KINDS) liveDropped.inc({ kind }, 0);

  const pipeline: PipelineMetrics = {
    readingsAccepted: (source, count) => accepted.inc({ source }, count),
    readingsDuplicate: (source, count) => duplicate.inc({ source }, count),
    readingRejected: (source, reason, count) => rejected.inc({ source, reason }, count),
    batchCommitted(readings, letters, seconds) {
      if (readings > 0) batchReadings.observe(readings);
      commitSeconds.observe(seconds);
      if (letters > 0) deadLetters.inc(letters);
    },
    submissionDurable: (seconds) => submissionSeconds.observe(seconds),
    commitFailed: () => commitFailures.inc(),
    queueDepth: (readings) => queueReadings.set(readings),
    pausedConnections: (count) => pausedConnections.set(count),
    connectionOpened: (source) => connections.inc({ source }),
    connectionClosed: (source) => connections.dec({ source }),
    connectionDropped: (source) => droppedConnections.inc({ source }),
  };

  const live: LiveMetrics = {
    clients: (count) => liveClients.set(count),
    dropped: (kind, count) => liveDropped.inc({ kind }, count),
    emitted: (packets) => liveEmits.inc(packets),
    invalidRequest: () => liveInvalid.inc(),
    sendDelay: (seconds) => liveSendDelay.observe(seconds),
  };

  const wsLive: WsLiveMetrics = {
    clients: (count) => wsClients.set(count),
    dropped: (kind, count) => liveDropped.inc({ kind }, count),
    emitted: (packets) => liveEmits.inc(packets),
    invalidRequest: () => liveInvalid.inc(),
    refused: (cause) => wsRefused.inc({ cause }),
    deadPeer: () => wsDeadPeers.inc(),
  };

  const rollups: RollupMetrics = {
    journalRows: (count) => journalRows.set(count),
    flushFailed: () => rollupFlushFailures.inc(),
    quarantined: (count) => rollupQuarantined.inc(count),
  };

  const http: HttpMetrics = { clientError: (kind) => httpClientErrors.inc({ kind }) };
  const deadLetterMetrics: DeadLetterMetrics = {
    pruned: (bound, count) => deadLettersPruned.inc({ bound }, count),
  };

  const connectionGuard: ConnectionGuardMetrics = {
    refusedPerAddress: (source) => refusedPerAddress.inc({ source }),
    reaped: (source) => reapedConnections.inc({ source }),
  };

  return { registry, http, pipeline, live, wsLive, rollups, deadLetters: deadLetterMetrics, connectionGuard };
}
