/**
 * The bus settings every process of a cluster must agree on beyond the flags (RabbitMQ refuses to
 * declare a queue again with other arguments), and each role's own bounds.
 */
import type { Logger } from 'pino';
import type { BusTopologyOptions } from '../../bus/bus-topology.js';
import type { HubConfig } from '../../config/hub-config.js';

/** How long a batch whose commit failed (the store is away) waits in the retry queue. */
export const BUS_RETRY_DELAY_MS = 2_000;
/** Commit attempts before a batch is moved to the dead queue (and kept as a dead letter). */
export const BUS_MAX_ATTEMPTS = 5;
/** Unacknowledged batches per partition a writer holds (several are merged into one commit). */
export const WRITER_PREFETCH = 64;
/**
 * A gateway's commits in flight on the bus, per --commit-concurrency of one process. Its commit is a
 * round trip (publish, the writer's group commit, the notice back), and the writer merges whatever has
 * arrived: a gateway that held frames back while two batches are out would only add a round trip to
 * their wait and hand the writer smaller merges. Parts awaiting notices stay bounded (maxPendingParts).
 */
export const GATEWAY_IN_FLIGHT_FACTOR = 4;
/** Committed-notice messages an api node's queue holds before the broker drops the oldest. */
export const FEED_MAX_QUEUED = 10_000;
/** And the bytes it holds (one notice may carry a whole batch's readings). */
export const FEED_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export function busTopology(config: HubConfig): BusTopologyOptions {
  return {
    prefix: config.bus.prefix,
    partitions: config.bus.partitions,
    maxQueueBytes: config.bus.maxQueueBytes,
    retryDelayMs: BUS_RETRY_DELAY_MS,
  };
}

/**
 * How long a gateway waits for a batch's commit notice before its committer retries (within
 * --commit-retry-deadline-ms): long enough for a writer to fail over, short enough to retry in time.
 */
export function noticeTimeoutMs(config: HubConfig): number {
  return Math.max(2_000, Math.min(15_000, config.limits.commitRetryDeadlineMs));
}

/** The bus URL: --amqp-url (validated present for every role but `all`). */
export function busUrl(config: HubConfig): string {
  const url = config.amqp?.url;
  if (url === undefined) throw new Error('a role other than all needs --amqp-url (the config check says so)');
  return url;
}

/** Logs a failed bus reconnect (BusConnection already throttles them) without the URL's password. */
export function busConnectFailedLog(logger: Logger, side: string): (description: string, suppressed: number) => void {
  return (description, suppressed) =>
    logger.warn({ side, suppressed }, `bus (${side}) reconnect failed: ${description}`);
}
