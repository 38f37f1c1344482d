/**
 * The dead-letter store's size bound: deletes, oldest first, the letters older than the age bound and
 * then those beyond the row bound. The per-second budget (pipeline/dead-letter-budget.ts) limits how
 * fast letters arrive; without this, nothing ever removed one and a flood of unauthenticated garbage
 * grew the table by hundreds of GB a day.
 *
 * - Age: `received_at` older than now − maxAge, walked on dead_letters_received_at_idx.
 * - Rows: all but the `maxRows` newest by id (insertion order across hubs; received_at is each hub's
 *   clock). The cutoff is the id of the (maxRows + 1)-th newest letter; when max(id) − min(id) < maxRows
 *   there cannot be more letters than that and the O(maxRows) index walk is skipped.
 *
 * Deletes run in steps of at most `stepRows` rows, each its own short implicit transaction, so no step
 * holds locks (or, on PGlite, the one connection commits also need) for long; at most `maxSteps` steps
 * per run, the next run goes on. Several hubs on one database may prune at once: every step deletes
 * only rows past a cutoff the caller computed (so hubs never delete more than the bounds ask between
 * them) and skips rows another step has locked (FOR UPDATE SKIP LOCKED) instead of queueing behind it.
 *
 * PGlite runs no autovacuum: without a VACUUM the space of deleted letters is never reused and the
 * data folder keeps growing, so after a run that deleted something the table is vacuumed there (plain
 * VACUUM: inserts and reads go on). On a PostgreSQL server autovacuum does this.
 */
import type { SqlExecutor } from './sql-executor.js';
import { toNumber } from './sql-values.js';

/** Rows one delete step removes at most (~35 ms on PGlite for small letters, 200–300 ms at 50 000). */
export const PRUNE_STEP_ROWS = 10_000;
/** Steps one run takes at most (1 000 000 rows: well over a minute of several hubs at their budget). */
export const PRUNE_MAX_STEPS = 100;

export interface DeadLetterBounds {
  /** Letters kept at most (the newest by id). */
  readonly maxRows: number;
  /** Letters received longer ago than this are deleted; null: no age bound. */
  readonly maxAgeMs: number | null;
}

export interface PruneOptions {
  /** The clock the age bound is measured against (ms); default Date.now(). */
  readonly now?: number;
  readonly stepRows?: number;
  readonly maxSteps?: number;
  /** Checked between steps: a closing store stops after the current step. */
  readonly signal?: AbortSignal;
}

export interface PruneOutcome {
  /** Letters deleted for being older than the age bound. */
  readonly byAge: number;
  /** Letters deleted for being beyond the row bound. */
  readonly byRows: number;
  /** The run stopped at its step limit (or was stopped) with work left: the next run goes on. */
  readonly more: boolean;
}

/**
 * One step: up to $2 of the oldest letters matching `where` ($1), counted. The ids are chosen and locked
 * once (ARRAY(...) is an init plan) and deleted through the primary key: a join with the chosen rows
 * was planned as a hash join over a sequential scan of the whole table.
 */
function deleteStep(where: string, order: string): string {
  return `WITH gone AS (
      DELETE FROM dead_letters WHERE id = ANY (ARRAY(
        SELECT id FROM dead_letters WHERE ${where} ORDER BY ${order} LIMIT $2 FOR UPDATE SKIP LOCKED
      )) RETURNING 1
    )
    SELECT count(*)::float8 AS n FROM gone`;
}

const DELETE_OLDER_THAN = deleteStep('received_at < to_timestamp($1 / 1000.0)', 'received_at');
const DELETE_UP_TO_ID = deleteStep('id <= $1::bigint', 'id');
const ID_SPAN = 'SELECT (max(id) - min(id))::float8 AS span FROM dead_letters';
// Not `AS id`: ORDER BY would then sort by the text output column (a seq scan and a text sort), not the key.
const ROW_CUTOFF = 'SELECT id::text AS cutoff FROM dead_letters ORDER BY id DESC OFFSET $1 LIMIT 1';

export async function pruneDeadLetters(
  executor: SqlExecutor,
  bounds: DeadLetterBounds,
  options: PruneOptions = {},
): Promise<PruneOutcome> {
  const stepRows = options.stepRows ?? PRUNE_STEP_ROWS;
  const maxSteps = options.maxSteps ?? PRUNE_MAX_STEPS;
  if (!Number.isInteger(bounds.maxRows) || bounds.maxRows < 0) throw new Error('store: maxRows must be an integer ≥ 0');
  if (!Number.isInteger(stepRows) || stepRows < 1) throw new Error('store: stepRows must be a positive integer');
  let steps = 0;
  let more = false;

  /** Deletes in steps while steps come back full; sets `more` when it had to stop before a short step. */
  const drain = async (text: string, param: unknown): Promise<number> => {
    let deleted = 0;
    for (;;) {
      if (steps >= maxSteps || options.signal?.aborted === true) {
        more = true;
        return deleted;
      }
      steps += 1;
      const [row] = await executor.write(text, [param, stepRows]);
      const n = toNumber(row?.['n'], 'n');
      deleted += n;
      // A short step: nothing left past the cutoff, or the rest is locked by another hub's step.
      if (n < stepRows) return deleted;
    }
  };

  let byAge = 0;
  if (bounds.maxAgeMs !== null) {
    byAge = await drain(DELETE_OLDER_THAN, (options.now ?? Date.now()) - bounds.maxAgeMs);
  }
  let byRows = 0;
  if (!more && options.signal?.aborted !== true) {
    const cutoff = await rowCutoff(executor, bounds.maxRows);
    if (cutoff !== null) byRows = await drain(DELETE_UP_TO_ID, cutoff);
  }
  // Not on a closing store (aborted): the next run that deletes something vacuums.
  if (executor.kind === 'pglite' && byAge + byRows > 0 && options.signal?.aborted !== true) {
    try {
      await executor.write('VACUUM dead_letters');
    } catch {
      // The deletes committed and are reported; a failed VACUUM only costs space until the next prune's.
    }
  }
  return { byAge, byRows, more };
}

/** The id at and below which letters are beyond the row bound, or null when there are none. */
async function rowCutoff(executor: SqlExecutor, maxRows: number): Promise<string | null> {
  const [span] = await executor.query(ID_SPAN);
  const value = span?.['span'];
  // Empty table, or ids too close together to hold more than maxRows letters: no index walk.
  if (value === null || value === undefined || toNumber(value, 'span') < maxRows) return null;
  const [row] = await executor.query(ROW_CUTOFF, [maxRows]);
  const cutoff = row?.['cutoff'];
  return typeof cutoff === 'string' ? cutoff : null;
}
