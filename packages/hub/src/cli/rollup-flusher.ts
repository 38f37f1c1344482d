/** The hub's timer that folds the store's rollup journal into the minute rollups (see store/rollup-journal.ts). */
import type { Logger } from 'pino';
import type { RollupMetrics } from '../observability/metrics.js';
import type { SqlReadingStore } from '../store/index.js';

/** How often the journal's size is sampled for the gauge: a count(*), so not on every tick. */
const BACKLOG_SAMPLE_MS = 1_000;

/**
 * Folds the store's rollup journal on a timer. A failed flush loses nothing (the journal rows stay and
 * the next flush takes them); it is logged once per run of failures, not once per tick, and counted.
 * Journal rows that could not be decoded or folded (quarantined by the store) are logged and counted every time.
 */
export function startRollupFlusher(
  store: Pick<SqlReadingStore, 'flushRollups' | 'rollupBacklog'>,
  intervalMs: number,
  logger: Logger,
  metrics: RollupMetrics,
): { stop(): void } {
  let failing = false;
  let busy = false;
  let lastSample = 0;
  const tick = async (): Promise<void> => {
    try {
      const outcome = await store.flushRollups();
      if (outcome.quarantined > 0) {
        metrics.quarantined(outcome.quarantined);
        logger.error(
          { quarantined: outcome.quarantined },
          'rollup journal rows could not be decoded or folded; moved to rollup_quarantine, their counts are missing from the rollups',
        );
      }
      if (failing) logger.info('rollup flush recovered');
      failing = false;
    } catch (error) {
      metrics.flushFailed();
      if (!failing) logger.warn({ err: (error as Error).message }, 'rollup flush failed; retrying');
      failing = true;
    }
    if (Date.now() - lastSample >= BACKLOG_SAMPLE_MS) {
      lastSample = Date.now();
      await store.rollupBacklog().then(
        (rows) => metrics.journalRows(rows),
        () => undefined, // the flush failure above already says why
      );
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void tick().finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
