/**
 * The store of a hub process, opened and migrated from its HubConfig, and the timers that keep it in
 * shape (rollup-journal folds, dead-letter pruning). Every process that commits runs the timers (role
 * `all` or `writer`); both are safe with several processes on one database: a fold takes journal rows
 * under the store's flush lock and deletes what it folds, a prune step skips rows another has locked.
 */
import type { Logger } from 'pino';
import type { HubConfig } from '../../config/hub-config.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { SqlReadingStore } from '../../store/index.js';
import { DEAD_LETTER_PRUNE_MS, startDeadLetterPruner } from '../dead-letter-pruner.js';
import { startRollupFlusher } from '../rollup-flusher.js';
import { openAndMigrate } from '../store-start-errors.js';

export async function openHubStore(config: HubConfig, logger: Logger): Promise<SqlReadingStore> {
  // Failures no caller is waiting for: a background checkpoint, an idle pooled connection the server
  // dropped, a PGlite call that never answered. Only the message: driver errors may carry parameters.
  const onBackgroundError = (error: unknown): void =>
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'store background error');
  return openAndMigrate(
    config.store,
    config.store.kind === 'pglite'
      ? {
          kind: 'pglite',
          dataDir: config.store.dataDir,
          thread: config.store.thread,
          callTimeoutMs: config.store.callTimeoutMs,
          reads: { maxWaiting: config.reads.maxWaiting, maxWaitMs: config.reads.maxWaitMs },
          onBackgroundError,
        }
      : {
          kind: 'postgres',
          url: config.store.url,
          poolSize: config.store.poolSize,
          ...(config.store.schema === undefined ? {} : { schema: config.store.schema }),
          reads: config.reads,
          onBackgroundError,
        },
  );
}

export interface StoreUpkeep {
  stop(): Promise<void>;
}

export function startStoreUpkeep(
  store: SqlReadingStore,
  config: HubConfig,
  logger: Logger,
  metrics: HubMetrics,
): StoreUpkeep {
  const { limits } = config;
  const rollupFlusher = startRollupFlusher(store, limits.rollupFlushMs, logger, metrics.rollups);
  const deadLetterPruner = startDeadLetterPruner(
    store,
    { maxRows: limits.deadLetterMaxRows, maxAgeMs: limits.deadLetterMaxAgeMs },
    DEAD_LETTER_PRUNE_MS,
    logger,
    metrics.deadLetters,
  );
  return {
    async stop() {
      rollupFlusher.stop();
      await deadLetterPruner.stop();
    },
  };
}
