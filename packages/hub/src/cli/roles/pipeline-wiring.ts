/**
 * Builds the hub's Pipeline (open, verify, replay check, group commit) from a HubConfig. One place for
 * every process that verifies input: the single process (`all`, committing into its store), and a
 * gateway or api node (committing through the bus; an api node only for dead-letter re-drives).
 */
import type { Logger } from 'pino';
import { legacyKey } from '@sealstream/protocol';
import type { HubConfig } from '../../config/hub-config.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { LegacyOpenPool } from '../../pipeline/legacy-open-pool.js';
import type { KeyResolver } from '../../pipeline/keyring.js';
import { Pipeline } from '../../pipeline/pipeline.js';
import type { ReadingStore } from '../../pipeline/ports.js';
import { storeErrorCodeOf } from '../../pipeline/store-error.js';
import { LEGACY_REPLAY_WINDOW_MS, type SharedStateWiring } from '../shared-state-wiring.js';

export interface PipelineParts {
  readonly config: HubConfig;
  /** Where commits go: the store itself, or the bus (cli/roles/bus-store.ts). */
  readonly store: ReadingStore;
  /** Metric-name lookups for the per-device bound: always the database. */
  readonly metricNames: (device: string, limit: number) => Promise<string[]>;
  readonly keys: KeyResolver;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  readonly legacyPool: LegacyOpenPool | undefined;
  /** Replay windows shared with other hubs through Redis (--redis-url); null: this process's memory only. */
  readonly shared: SharedStateWiring | null;
  /** Commits in flight at once; default --commit-concurrency (a gateway's go through the bus: more). */
  readonly commitConcurrency?: number;
}

export function createPipeline(parts: PipelineParts): Pipeline {
  const { config, logger } = parts;
  const { limits } = config;
  return new Pipeline({
    store: parts.store,
    metrics: parts.metrics.pipeline,
    keys: parts.keys,
    limits: {
      maxClockSkewMs: limits.maxClockSkewMs,
      maxReadingAgeMs: limits.maxReadingAgeMs,
      maxReadingFutureMs: limits.maxReadingFutureMs,
      maxReadingsPerFrame: limits.maxReadingsPerFrame,
      maxBatchRows: limits.maxBatchRows,
      maxQueuedRows: limits.maxQueuedRows,
      highWaterRows: Math.floor(limits.maxQueuedRows / 2),
      commitConcurrency: parts.commitConcurrency ?? limits.commitConcurrency,
      commitParallelMinRows: limits.commitParallelMinRows,
      commitRetryDeadlineMs: limits.commitRetryDeadlineMs,
      replayWindowMaxEntries: 1_000_000,
      deadLetters: {
        maxRawBytes: limits.deadLetterRawBytes,
        maxPerSecond: limits.deadLettersPerSecond,
        // A legacy sender that puts its AUTH token in a DATA line must not publish it to every viewer.
        secrets: config.legacy === null ? [] : [config.legacy.authToken, ...config.legacy.extraAuthTokens],
      },
    },
    ...(config.legacy === null
      ? {}
      : {
          legacy: {
            key: legacyKey(config.legacy.encryptionKey),
            device: config.legacy.device,
            acceptVariants: config.legacy.acceptVariants,
            replayWindowMs: LEGACY_REPLAY_WINDOW_MS,
          },
        }),
    ...(parts.legacyPool === undefined ? {} : { legacyPool: parts.legacyPool }),
    ...(parts.shared === null ? {} : { shared: parts.shared.pipeline }),
    metricBound: { maxPerDevice: config.maxMetricsPerDevice, load: parts.metricNames },
    // What the committer does next follows the store error's code (pipeline/committer.ts); every failed
    // attempt also shows in sealstream_commit_failures_total.
    onCommitError: (error, attempt) => logCommitFailure(logger, error, attempt),
  });
}

/** An outage retried until the deadline is a warning; a store that cannot commit until fixed is an error. */
function logCommitFailure(logger: Logger, error: unknown, attempt: number): void {
  const err = error instanceof Error ? error.message : String(error);
  const code = storeErrorCodeOf(error);
  if (code === 'store_unavailable')
    logger.warn({ err, code, attempt }, 'commit failed; retrying while the deadline allows');
  else if (code === 'store_refused_data')
    logger.warn({ err, code, attempt }, 'commit refused for its data; isolating the refused rows');
  else logger.error({ err, code, attempt }, 'commit failed and retrying cannot help; fix the store');
}
