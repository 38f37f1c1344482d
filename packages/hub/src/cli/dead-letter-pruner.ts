/** The hub's timer that keeps the dead-letter store within its bounds (see store/dead-letter-retention.ts). */
import type { Logger } from 'pino';
import type { DeadLetterMetrics } from '../observability/metrics.js';
import type { DeadLetterBounds, PruneOutcome } from '../store/index.js';

/** How often the hub prunes: a minute of letters at the per-second budget is far below one run's steps. */
export const DEAD_LETTER_PRUNE_MS = 60_000;

export interface PrunableStore {
  pruneDeadLetters(bounds: DeadLetterBounds, options: { signal: AbortSignal }): Promise<PruneOutcome>;
}

/**
 * Prunes on a timer, one run at a time. What was deleted is counted per bound and logged at info (an
 * operator should know evidence is being dropped). A failed run deletes nothing more and is retried on
 * the next tick; it is logged once per run of failures, not once per tick. `stop()` ends the current
 * run after its current step and resolves when it has, so the store can be closed after it.
 */
export function startDeadLetterPruner(
  store: PrunableStore,
  bounds: DeadLetterBounds,
  intervalMs: number,
  logger: Logger,
  metrics: DeadLetterMetrics,
): { stop(): Promise<void> } {
  const abort = new AbortController();
  let failing = false;
  let running: Promise<void> | undefined;
  const run = async (): Promise<void> => {
    try {
      const outcome = await store.pruneDeadLetters(bounds, { signal: abort.signal });
      if (outcome.byAge > 0) metrics.pruned('age', outcome.byAge);
      if (outcome.byRows > 0) metrics.pruned('rows', outcome.byRows);
      if (outcome.byAge + outcome.byRows > 0) {
        logger.info(
          { byAge: outcome.byAge, byRows: outcome.byRows, more: outcome.more },
          'dead letters pruned (oldest first) to stay within --dead-letter-max-rows / --dead-letter-max-age-hours',
        );
      }
      if (failing) logger.info('dead-letter prune recovered');
      failing = false;
    } catch (error) {
      if (abort.signal.aborted) return; // the store is closing
      if (!failing) logger.warn({ err: (error as Error).message }, 'dead-letter prune failed; retrying');
      failing = true;
    }
  };
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = run().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
