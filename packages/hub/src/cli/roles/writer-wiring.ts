/**
 * The writer role: consumes the bus's partition queues and group-commits into PostgreSQL (BusWriter),
 * keeps the store in shape (rollup folds, dead-letter pruning: safe beside other writers), counts what
 * it committed, and keeps a batch it gave up on (after BUS_MAX_ATTEMPTS, or undecodable) as a dead
 * letter with the reason, besides the copy in the dead queue.
 */
import type { Logger } from 'pino';
import type { ReasonCode } from '@sealstream/protocol';
import { decodeBusBatch } from '../../bus/bus-batch-codec.js';
import { BusWriter } from '../../bus/bus-writer.js';
import type { HubConfig } from '../../config/hub-config.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { CommitBatch, DeadLetter, SourceKind, VerifiedReading } from '../../pipeline/ports.js';
import { StatsTracker } from '../../pipeline/stats-tracker.js';
import type { SqlReadingStore } from '../../store/index.js';
import { BUS_MAX_ATTEMPTS, WRITER_PREFETCH, busConnectFailedLog, busTopology, busUrl } from './bus-settings.js';
import { startStoreUpkeep } from './store-wiring.js';

export interface WriterRole {
  readonly connected: () => boolean;
  /** Readings committed as new per second (the cluster view). */
  readonly committedPerSec: () => number;
  close(): Promise<void>;
}

export async function startWriterRole(
  config: HubConfig,
  store: SqlReadingStore,
  metrics: HubMetrics,
  logger: Logger,
): Promise<WriterRole> {
  const rates = new StatsTracker();
  // A gateway in the same process counts readings and commits already (its pipeline sees every commit's
  // answer; its commit there is the round trip through the bus): counted twice they would mislead.
  const countsReadings = config.role === 'all' || !config.role.includes('gateway');
  const upkeep = startStoreUpkeep(store, config, logger, metrics);
  const keep = (partition: number, detail: string, content: Buffer, reason: string): void => {
    logger.error(
      { partition, reason },
      'a bus batch was given up on; moved to the dead queue and kept as a dead letter',
    );
    const letter = giveUpLetter(config, partition, detail, content, reason);
    // When the store is what failed, this fails too: the dead queue still holds the batch.
    store.commit({ readings: [], deadLetters: [letter] }).catch((error: unknown) => {
      logger.warn({ err: (error as Error).message }, 'the dead letter of a given-up batch could not be stored');
    });
  };
  // A bus that cannot start (refused, unreachable for 30 s) fails the role; the upkeep must not outlive it.
  const writer = await BusWriter.open({
    ...busTopology(config),
    url: busUrl(config),
    instance: config.instance,
    store,
    prefetch: WRITER_PREFETCH,
    maxBatchRows: config.limits.maxBatchRows,
    // As many commits in flight as one process runs (--commit-concurrency), on disjoint partitions.
    concurrency: config.limits.commitConcurrency,
    maxAttempts: BUS_MAX_ATTEMPTS,
    ...(countsReadings ? { metrics: metrics.pipeline } : {}),
    onCommitted: (fresh, _at, batch) => countCommitted(countsReadings ? metrics : null, rates, fresh, batch),
    onGiveUp: keep,
    onError: (error) => logger.warn({ err: error.message }, 'bus (writer) error'),
    onConnectFailed: busConnectFailedLog(logger, 'writer'),
  }).catch(async (error: unknown) => {
    await upkeep.stop();
    throw error;
  });
  return {
    connected: () => writer.connected,
    committedPerSec: () => rates.snapshot().readingsPerSec,
    async close() {
      await writer.close();
      await upkeep.stop();
    },
  };
}

function countCommitted(
  metrics: HubMetrics | null,
  rates: StatsTracker,
  fresh: readonly VerifiedReading[],
  batch: CommitBatch,
): void {
  const accepted = new Map<SourceKind, number>();
  const all = new Map<SourceKind, number>();
  for (const reading of fresh) accepted.set(reading.source, (accepted.get(reading.source) ?? 0) + 1);
  for (const reading of batch.readings) all.set(reading.source, (all.get(reading.source) ?? 0) + 1);
  rates.addValid(fresh.length);
  if (metrics === null) return;
  for (const [source, count] of all) {
    const fresh = accepted.get(source) ?? 0;
    if (fresh > 0) metrics.pipeline.readingsAccepted(source, fresh);
    if (count - fresh > 0) metrics.pipeline.readingsDuplicate(source, count - fresh);
  }
}

/** What is kept of a batch given up on: its bytes (cut to --dead-letter-raw-bytes) and why. */
function giveUpLetter(
  config: HubConfig,
  partition: number,
  detail: string,
  content: Buffer,
  reason: string,
): DeadLetter {
  let first: VerifiedReading | undefined;
  try {
    first = decodeBusBatch(content).readings[0];
  } catch {
    // undecodable: nothing to name
  }
  const code: ReasonCode = reason === 'bus_message_malformed' ? 'malformed_body' : 'store_unavailable';
  const max = config.limits.deadLetterRawBytes;
  return {
    reason: code,
    source: first?.source ?? 'amqp',
    peer: `bus:${config.bus.prefix}.batches.${partition}`,
    device: first?.device ?? null,
    detail: `bus batch given up on by writer ${config.instance}: ${detail}`.slice(0, 500),
    raw: content.subarray(0, max),
    truncated: content.length > max,
    receivedAt: Date.now(),
  };
}
