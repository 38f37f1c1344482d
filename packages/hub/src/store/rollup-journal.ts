/**
 * Moves the rollup journal (one row of minute deltas per commit, see rollup-statements.ts) into the
 * rollup tables: in ONE transaction, take the oldest journal rows (DELETE ... RETURNING), merge them
 * (journal-codec.ts) and upsert the result. A journal row therefore counts exactly once whoever folds
 * it — this hub, another hub on the same database, or the next hub to start after a crash.
 *
 * Reads of the rollups call `settle()` first, so a reading acknowledged before a query began is always
 * in that query's totals and series (read-your-writes within a hub). Another hub's commits reach the
 * rollups within its flush interval.
 *
 * A journal row that cannot be decoded (another version wrote it, or it was damaged) is moved to
 * `rollup_quarantine` by the flush that took it, so one bad row never blocks every later flush.
 */
import { decodeJournalRow, JournalFormatError, mergeDecodedRows, type DecodedJournalRow } from './journal-codec.js';
import {
  JOURNAL_HAS_ROWS,
  LOCK_FLUSH,
  quarantineJournalRows,
  rollupUpsertParts,
  takeJournalRows,
} from './rollup-statements.js';
import { combineWrites } from './statement.js';
import type { SqlExecutor } from './sql-executor.js';
import { toText } from './sql-values.js';

/**
 * Journal rows per flush transaction: bounds one transaction's size, how long it holds row locks, and
 * how long merging them keeps the hub's event loop busy (~0.25 ms per row of a 20K readings/s stream
 * of small commits), so a backlog after an outage is folded in short steps, not one long pause.
 */
export const JOURNAL_ROWS_PER_FLUSH = 100;

/** What one flush did. */
export interface FlushOutcome {
  /** Journal rows folded into the rollups. */
  readonly folded: number;
  /** Journal rows that could not be decoded, moved to rollup_quarantine. */
  readonly quarantined: number;
}

const NOTHING: FlushOutcome = { folded: 0, quarantined: 0 };

export class RollupJournal {
  /**
   * True when journal rows may be waiting: after any commit of this store, and at start (a crashed hub
   * or another one may have left rows).
   */
  private dirty = true;
  /** True when this store committed journal rows that no flush has taken since. */
  private ownRowsWaiting = false;
  /** The flush running now, and the one queued behind it (flushes of one store never overlap). */
  private running: Promise<FlushOutcome> | null = null;
  private queued: Promise<FlushOutcome> | null = null;

  constructor(private readonly executor: SqlExecutor) {}

  /** A commit holding a journal row was acknowledged by the database. */
  noteCommitted(): void {
    this.dirty = true;
    this.ownRowsWaiting = true;
  }

  /** Whether a flush would find rows this store committed (for a last flush at close). */
  get hasOwnRowsWaiting(): boolean {
    return this.ownRowsWaiting;
  }

  /** Flushes if anything this store committed (or found at start) may still be in the journal. */
  async settle(): Promise<void> {
    if (this.dirty) {
      await this.flush();
    } else if (this.queued !== null) {
      await this.queued;
    } else if (this.running !== null) {
      await this.running;
    }
  }

  /** Resolves when no flush runs or waits to run (whatever their outcome). */
  async idle(): Promise<void> {
    while (this.queued !== null || this.running !== null) {
      await (this.queued ?? this.running)?.catch(() => undefined);
    }
  }

  /**
   * Folds every journal row there is into the rollups. A flush asked for while one runs waits for it
   * and then runs (once, however many asked meanwhile), because commits may have landed after the
   * running one took its rows.
   */
  flush(): Promise<FlushOutcome> {
    if (this.queued !== null) return this.queued;
    if (this.running === null) return this.start();
    const queued = this.running.then(
      () => this.start(),
      () => this.start(),
    );
    this.queued = queued;
    return queued;
  }

  private start(): Promise<FlushOutcome> {
    this.queued = null;
    this.dirty = false;
    const hadOwnRows = this.ownRowsWaiting;
    this.ownRowsWaiting = false;
    const running = this.drain().catch((error: unknown) => {
      this.dirty = true;
      this.ownRowsWaiting ||= hadOwnRows;
      throw error;
    });
    this.running = running;
    const clear = (): void => {
      if (this.running === running) this.running = null;
    };
    running.then(clear, clear);
    return running;
  }

  private async drain(): Promise<FlushOutcome> {
    // Checked outside a transaction: an idle hub's flushes then write nothing (PGlite checkpoints
    // only after writes).
    const [probe] = await this.executor.query(JOURNAL_HAS_ROWS);
    if (probe?.['has_rows'] !== true) return NOTHING;
    let folded = 0;
    let quarantined = 0;
    for (;;) {
      const step = await this.flushOnce();
      folded += step.folded;
      quarantined += step.quarantined;
      if (step.folded + step.quarantined < JOURNAL_ROWS_PER_FLUSH) return { folded, quarantined };
    }
  }

  private flushOnce(): Promise<FlushOutcome> {
    return this.executor.transaction(async (tx) => {
      await tx.query(LOCK_FLUSH);
      const take = takeJournalRows(JOURNAL_ROWS_PER_FLUSH);
      const rows = await tx.query(take.text, take.params);
      if (rows.length === 0) return NOTHING;
      const decoded: DecodedJournalRow[] = [];
      const bad: Array<{ id: string; deltas: string; error: string }> = [];
      for (const row of rows) {
        const text = toText(row['deltas'], 'deltas');
        try {
          decoded.push(decodeJournalRow(text));
        } catch (error) {
          if (!(error instanceof JournalFormatError)) throw error;
          bad.push({ id: toText(row['id'], 'id'), deltas: text, error: error.message });
        }
      }
      const upserts = combineWrites(rollupUpsertParts(mergeDecodedRows(decoded)));
      if (upserts !== null) await tx.query(upserts.text, upserts.params);
      if (bad.length > 0) {
        const quarantine = quarantineJournalRows(bad);
        await tx.query(quarantine.text, quarantine.params);
      }
      return { folded: decoded.length, quarantined: bad.length };
    });
  }
}
