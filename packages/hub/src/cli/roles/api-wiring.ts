/**
 * The api role's live data: commit notices from the bus (BusCommittedFeed: this node's own bounded
 * queue on the committed fanout) go to the live layer's sinks (Socket.IO and /live/ws), and move the
 * node's stats (ApiStats: totals read from PostgreSQL, rates from the notices).
 */
import type { Logger } from 'pino';
import { BusCommittedFeed } from '../../bus/bus-committed-feed.js';
import type { HubConfig } from '../../config/hub-config.js';
import type { DeadLetter, LiveSink, VerifiedReading } from '../../pipeline/ports.js';
import type { ApiStats } from './api-stats.js';
import { FEED_MAX_QUEUED, FEED_MAX_QUEUED_BYTES, busConnectFailedLog, busUrl } from './bus-settings.js';

export async function openCommittedFeed(
  config: HubConfig,
  stats: ApiStats,
  sinks: () => readonly LiveSink[],
  logger: Logger,
): Promise<BusCommittedFeed> {
  const fanOut: LiveSink = {
    committed(readings: readonly VerifiedReading[], committedAt: number) {
      for (const sink of sinks()) {
        try {
          sink.committed(readings, committedAt);
        } catch {
          // a live sink never stops the feed; sinks count their own failures
        }
      }
    },
    rejected(deadLetters: readonly DeadLetter[]) {
      for (const sink of sinks()) {
        try {
          sink.rejected(deadLetters);
        } catch {
          // as above
        }
      }
    },
  };
  let malformed = 0;
  return BusCommittedFeed.open({
    url: busUrl(config),
    prefix: config.bus.prefix,
    instance: config.instance,
    maxQueuedMessages: FEED_MAX_QUEUED,
    maxQueuedBytes: FEED_MAX_QUEUED_BYTES,
    sink: fanOut,
    onBatch: (batch) => stats.noticed(batch),
    onMalformed: () => {
      malformed += 1;
      if (malformed === 1 || malformed % 1000 === 0) logger.warn({ malformed }, 'undecodable commit notices ignored');
    },
    onError: (error) => logger.warn({ err: error.message }, 'bus (committed feed) error'),
    onConnectFailed: busConnectFailedLog(logger, 'committed feed'),
  });
}
