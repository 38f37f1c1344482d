/** The hub's timer that folds the store's rollup journal into the minute rollups (see store/rollup-journal.ts). */
import type { Logger } from 'pino';
import type { SqlReadingStore } from '../store/index.js';

/**
 * Folds the store's rollup journal on a timer. A failed flush loses nothing (the journal rows stay and
 * the next flush takes them); it is logged once per run of failures, not once per tick.
 */
export function startRollupFlusher(
  store: Pick<SqlReadingStore, 'flushRollups'>,
  intervalMs: number,
  logger: Logger,
): { stop(): void } {
  let failing = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    store
      .flushRollups()
      .then(
        () => {
          if (failing) logger.info('rollup flush recovered');
          failing = false;
        },
        (error: unknown) => {
          if (!failing) logger.warn({ err: (error as Error).message }, 'rollup flush failed; retrying');
          failing = true;
        },
      )
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
