/**
 * Moves the rollup journal (one row of minute deltas per commit, see rollup-statements.ts) into the
 * rollup tables: in ONE transaction, take the oldest journal rows (DELETE ... RETURNING), merge them
 * (journal-codec.ts) and upsert the result. A journal row therefore counts exactly once whoever folds
 * it — this hub, another hub on the same database, or the next hub to start after a crash.
 *
 * Reads of the rollups call `settle()` first, so a reading acknowledged before a query began is in that
 * query's totals and series (read-your-writes within a hub) — unless the journal holds a backlog that
 * takes longer to fold than the store lets a read wait (SETTLE_WAIT_MS in sql-store.ts). Another hub's
 * commits reach the rollups within its flush interval. Every flush works in steps bounded by rows and
 * by bytes of deltas, so no step holds the event loop or a transaction for long.
 *
 * A journal row that cannot be decoded (another version wrote it, or it was damaged), or whose deltas
 * PostgreSQL refuses for good (see PERMANENT_SQLSTATE_CLASSES), is moved to `rollup_quarantine` by the
 * flush that took it, so one bad row never blocks every later flush.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { decodeJournalRow, JournalFormatError, mergeDecodedRows, type DecodedJournalRow } from './journal-codec.js';
import {
  JOURNAL_HAS_ROWS,
  LOCK_FLUSH,
  quarantineJournalRows,
  rollupUpsertParts,
  takeJournalRows,
} from './rollup-statements.js';
import { combineWrites } from './statement.js';
import type { SqlExecutor, SqlTransaction } from './sql-executor.js';
import { toText } from './sql-values.js';
import { failureReason, sqlStateOf } from './store-errors.js';

/**
 * Journal rows per flush transaction, and deltas text per transaction (the first row is always
 * taken; rows hold at most MAX_JOURNAL_ROW_ENTRIES entries). They bound one transaction's size, how
 * long it holds row locks, and how long parsing and merging keep the hub's event loop busy (~0.25 ms
 * per row of a 20K readings/s stream of small commits; ~1 MB of deltas is ~25K entries, tens of ms),
 * so a backlog after an outage is folded in short steps, not one long pause.
 */
export const JOURNAL_ROWS_PER_FLUSH = 100;
export const JOURNAL_BYTES_PER_FLUSH = 1_048_576;

/**
 * Journal rows parsed per turn of the event loop; the flush yields between slices. Parsing is most of a
 * step's CPU (~0.05–0.1 ms per row of a 20K readings/s stream, so a 100-row step held the loop 4–9 ms
 * four times a second and every reading that arrived meanwhile waited): slices of 16 rows keep each
 * turn near 1 ms. The transaction stays open across the slices; it holds only the flush lock and the
 * rows it took, which no commit touches.
 */
export const JOURNAL_ROWS_PER_TURN = 16;

/**
 * The journal's bound, in bytes of deltas this store appended and no flush has taken yet. Past it,
 * commits wait for a flush (RollupJournal.behind), so ingest slows to the speed rollups can be folded
 * instead of the backlog growing without limit. Folding runs at roughly 40K rollup entries per second
 * here; 8 MB (~200K entries) is a few seconds behind. Normal traffic stays far below it (20K readings/s
 * of small commits appends ~1.5 MB/s, folded every 250 ms).
 */
export const JOURNAL_BACKLOG_BYTES = 8 * 1_048_576;

/**
 * SQLSTATE classes of upsert errors that the same journal rows would raise on every retry: data
 * exceptions (22, a value out of range), integrity violations (23) and program limits (54: an index
 * entry over 2704 bytes, which a 3000-character metric name once caused, freezing every later fold).
 * Anything else (a lost connection, a deadlock, a timeout, a full disk) is transient: the step fails
 * and the next flush retries it.
 */
const PERMANENT_SQLSTATE_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54']);

function isPermanentRefusal(error: unknown): boolean {
  return PERMANENT_SQLSTATE_CLASSES.has(sqlStateOf(error)?.slice(0, 2) ?? '');
}

interface TakenRow {
  readonly id: string;
  readonly text: string;
  readonly row: DecodedJournalRow;
}

type Quarantined = { id: string; deltas: string; error: string };

/**
 * How often, at most, a flush on PGlite vacuums the journal. PGlite runs no autovacuum, and the journal is
 * a queue (a row per commit in, taken out by the flush): without VACUUM the space of taken rows is never
 * reused and the table grew ~1.1 KB per commit for ever (~65 GB a day at 20K readings/s in small
 * commits). A VACUUM of the few live rows takes milliseconds. On a PostgreSQL server autovacuum does it.
 */
export const JOURNAL_VACUUM_INTERVAL_MS = 30_000;

/** What one flush did. */
export interface FlushOutcome {
  /** Journal rows folded into the rollups. */
  readonly folded: number;
  /** Journal rows that could not be decoded or whose fold PostgreSQL refused, moved to rollup_quarantine. */
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
  /** Set by stop(): a running flush ends after its current step instead of draining a backlog. */
  private stopping = false;
  /** Bytes of deltas appended by this store minus bytes any flush of this store took (an estimate). */
  private backlogBytes = 0;
  /** When this store last vacuumed the journal (PGlite only); 0: not yet. */
  private vacuumedAt = 0;

  constructor(
    private readonly executor: SqlExecutor,
    private readonly backlogBound: number = JOURNAL_BACKLOG_BYTES,
    private readonly vacuumIntervalMs: number = JOURNAL_VACUUM_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A commit was acknowledged by the database, with `bytes` of journal rows (0: it appended none). */
  noteCommitted(bytes: number): void {
    this.dirty = true;
    this.ownRowsWaiting = true;
    this.backlogBytes += bytes;
  }

  /** True when the journal is past its bound: commits should wait for a flush. */
  get behind(): boolean {
    return this.backlogBytes > this.backlogBound;
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

  /**
   * Ends a running flush after its current step, and makes every later flush one step long (for a
   * bounded last fold at close). Rows left stay in the journal, durable, and are folded by the next
   * flush of any hub on the database.
   */
  stop(): void {
    this.stopping = true;
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
    const running = this.drain().then(
      ({ complete, ...outcome }) => {
        if (!complete) {
          // Stopped early (closing): what was not taken may include this store's rows.
          this.dirty = true;
          this.ownRowsWaiting ||= hadOwnRows;
        }
        return outcome;
      },
      (error: unknown) => {
        this.dirty = true;
        this.ownRowsWaiting ||= hadOwnRows;
        throw error;
      },
    );
    this.running = running;
    const clear = (): void => {
      if (this.running === running) this.running = null;
    };
    running.then(clear, clear);
    return running;
  }

  private async drain(): Promise<FlushOutcome & { readonly complete: boolean }> {
    // Checked outside a transaction: an idle hub's flushes then write nothing (PGlite checkpoints
    // only after writes).
    const [probe] = await this.executor.query(JOURNAL_HAS_ROWS);
    if (probe?.['has_rows'] !== true) return { ...NOTHING, complete: true };
    let folded = 0;
    let quarantined = 0;
    for (;;) {
      const step = await this.flushOnce();
      folded += step.folded;
      quarantined += step.quarantined;
      if (!step.more) {
        await this.vacuumIfDue(folded + quarantined);
        return { folded, quarantined, complete: true };
      }
      if (this.stopping) return { folded, quarantined, complete: false };
    }
  }

  /** PGlite only (no autovacuum there): lets the space of taken journal rows be reused. */
  private async vacuumIfDue(taken: number): Promise<void> {
    if (this.executor.kind !== 'pglite' || taken === 0 || this.stopping) return;
    const now = this.now();
    if (now - this.vacuumedAt < this.vacuumIntervalMs) return;
    this.vacuumedAt = now;
    try {
      await this.executor.write('VACUUM rollup_pending');
    } catch {
      // The fold before it committed and must be reported as done; a failed VACUUM only costs space, and the
      // next one is due after the interval. A store in real trouble (a full disk) fails its commits too.
    }
  }

  /** One step; `more` is true when it stopped at a bound, so more rows may wait. */
  private flushOnce(): Promise<FlushOutcome & { readonly more: boolean }> {
    return this.executor.transaction(async (tx) => {
      await tx.query(LOCK_FLUSH);
      const take = takeJournalRows(JOURNAL_ROWS_PER_FLUSH, JOURNAL_BYTES_PER_FLUSH);
      const rows = await tx.query(take.text, take.params);
      if (rows.length === 0) return { ...NOTHING, more: false };
      const decoded: TakenRow[] = [];
      const bad: Quarantined[] = [];
      let bytes = 0;
      for (let i = 0; i < rows.length; i += 1) {
        if (i > 0 && i % JOURNAL_ROWS_PER_TURN === 0) await yieldToEventLoop();
        const row = rows[i] as (typeof rows)[number];
        const text = toText(row['deltas'], 'deltas');
        bytes += Buffer.byteLength(text);
        const id = toText(row['id'], 'id');
        try {
          decoded.push({ id, text, row: decodeJournalRow(text) });
        } catch (error) {
          if (!(error instanceof JournalFormatError)) throw error;
          bad.push({ id, deltas: text, error: error.message });
        }
      }
      const folded = await foldIsolating(tx, decoded, bad);
      if (bad.length > 0) {
        const quarantine = quarantineJournalRows(bad);
        await tx.query(quarantine.text, quarantine.params);
      }
      this.backlogBytes = Math.max(0, this.backlogBytes - bytes);
      // Cut by the row limit, or by the byte budget (then the bytes taken reach it): more may wait.
      const more = rows.length === JOURNAL_ROWS_PER_FLUSH || bytes >= JOURNAL_BYTES_PER_FLUSH;
      return { folded, quarantined: bad.length, more };
    });
  }
}

/**
 * Upserts the merged deltas of `rows` under a savepoint and returns how many rows were folded. When
 * PostgreSQL refuses them for good, the rows are halved until each refused one stands alone: it goes to
 * `quarantine` with the reason (its counts leave the rollups; the row keeps them for a diagnosis), the
 * others are folded. One bad row among a step's 100 costs about 14 upserts, once.
 */
async function foldIsolating(
  tx: SqlTransaction,
  rows: readonly TakenRow[],
  quarantine: Quarantined[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const upserts = combineWrites(rollupUpsertParts(mergeDecodedRows(rows.map((taken) => taken.row))));
  if (upserts === null) return rows.length;
  await tx.query('SAVEPOINT rollup_fold');
  try {
    await tx.query(upserts.text, upserts.params);
  } catch (error) {
    // Transient: the whole step fails and is retried by the next flush, rows and all.
    if (!isPermanentRefusal(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT rollup_fold');
    await tx.query('RELEASE SAVEPOINT rollup_fold');
    const [only] = rows;
    if (rows.length === 1 && only !== undefined) {
      quarantine.push({ id: only.id, deltas: only.text, error: `the rollups refused it: ${failureReason(error)}` });
      return 0;
    }
    const half = Math.ceil(rows.length / 2);
    return (
      (await foldIsolating(tx, rows.slice(0, half), quarantine)) +
      (await foldIsolating(tx, rows.slice(half), quarantine))
    );
  }
  await tx.query('RELEASE SAVEPOINT rollup_fold');
  return rows.length;
}
