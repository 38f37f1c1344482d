/**
 * The ReadingStore over any SqlExecutor: commit orchestration plus delegation to migrations, partitions
 * and queries. A commit is: make sure the day partitions exist (own short transaction, see
 * partitions.ts), then ONE transaction holding the readings insert, one rollup-journal row with the
 * minute deltas of the newly inserted readings and dead letters, the dead letters, and the XRayIOT
 * signal summaries of the batch (so a signal's summary is durable exactly when its readings are). The journal is
 * folded into the rollup tables by `flushRollups` (rollup-journal.ts): periodically, and before any
 * read of the rollups. Every failure surfaces as an Error
 * naming the step and the SQLSTATE, never data values.
 *
 * Readings (and signal summaries) are first written strictly (no ON CONFLICT: the cheapest write
 * PostgreSQL has, see commit-statements.ts). A batch holding a key that is already stored fails that attempt with
 * unique_violation; it is rolled back whole and committed again leniently (ON CONFLICT DO NOTHING,
 * exact per-row answers). After such a conflict the next commits start lenient, until one of them
 * finds no duplicate: resends come in runs (a reconnecting device), and a failed strict attempt costs
 * a wasted write.
 */
import type {
  CommitBatch,
  CommitResult,
  DeadLetterRow,
  MinuteBucketRow,
  ReadingStore,
  StoreTotals,
  StoredReading,
  VerifiedReading,
  CopyPart,
} from '../pipeline/ports.js';
import {
  CREATE_READING_STAGE,
  INSERT_STAGED_READINGS,
  insertReadingsInline,
  insertReadingsStrict,
  READING_COLUMNS,
  READING_STAGE_COLUMNS,
  READING_STAGE_TABLE,
  readingCopyText,
  readingStageText,
  secondaryParts,
  SIGNAL_COLUMNS,
  SIGNAL_COPY_ROWS,
  signalCopyText,
  signalsCopyable,
  SMALL_BATCH_ROWS,
  strictlyStorable,
} from './commit-statements.js';
import {
  pruneDeadLetters,
  type DeadLetterBounds,
  type PruneOptions,
  type PruneOutcome,
} from './dead-letter-retention.js';
import { encodeJournalRows } from './journal-codec.js';
import { RollupJournal, type FlushOutcome } from './rollup-journal.js';
import { combineWrites, type Statement } from './statement.js';
import {
  countUsers,
  insertUser,
  selectUserById,
  selectUserByName,
  selectUsers,
  updateUser,
  deleteUser,
  type CreateUserResult,
  type Role,
  type UserPatch,
  type UserRow,
  type UserWithHash,
} from './accounts.js';
import {
  queryDeadLetterPage,
  queryDevicePage,
  queryMinuteDocuments,
  queryReadingPage,
  queryMetricNames,
  querySeries,
  type DeadLetterCursor,
  type DeadLetterFilter,
  type DeviceSummary,
  type MinuteDocument,
  type Page,
  type ReadingCursor,
  type Series,
  type SeriesMetrics,
  type SeriesWidth,
} from './api-queries.js';
import { runMigrations } from './migrate.js';
import { foldMinutes } from './minute-fold.js';
import { dayStartOf, PartitionManager } from './partitions.js';
import {
  queryMinuteBuckets,
  queryReadings,
  queryRecentDeadLetters,
  queryRejectTotals,
  queryTotals,
} from './queries.js';
import {
  DEFAULT_READ_CONCURRENCY,
  DEFAULT_READ_QUEUE,
  DEFAULT_READ_WAIT_MS,
  ReadBudget,
  ReadsBusyError,
  type ReadBudgetOptions,
} from './read-budget.js';
import type { SqlExecutor, SqlQueryable, SqlTransaction } from './sql-executor.js';
import { toNumber, toText } from './sql-values.js';
import { StoreError } from '../pipeline/store-error.js';
import { sqlStateOf, storeFailure } from './store-errors.js';

/** check_violation: "no partition of relation found for row" when another process dropped a cached day. */
const NO_PARTITION_SQLSTATE = '23514';
/** unique_violation: a strict write met a key that is already stored (a resend). */
const UNIQUE_VIOLATION_SQLSTATE = '23505';
/** Commits that go lenient at once after a strict attempt met a stored key (unless one finds none). */
const LENIENT_COMMITS_AFTER_CONFLICT = 8;

/** How the store's commits went; for benchmarks and tests. */
export interface CommitPathCounts {
  /** Commits whose readings were written strictly (every row new). */
  strict: number;
  /** Commits written leniently (ON CONFLICT DO NOTHING). */
  lenient: number;
  /** Strict attempts rolled back because a key was already stored. */
  conflicts: number;
}

/** The position of each reading's first occurrence of its key, and which positions repeat an earlier one. */
function dedupeBatch(readings: readonly VerifiedReading[]): { unique: VerifiedReading[]; firstIndex: number[] } {
  const seen = new Map<string, number>();
  const unique: VerifiedReading[] = [];
  const firstIndex: number[] = [];
  readings.forEach((reading, index) => {
    const key = `${reading.device}\u0000${reading.seq}\u0000${reading.ts}`;
    if (seen.has(key)) return;
    seen.set(key, index);
    unique.push(reading);
    firstIndex.push(index);
  });
  return { unique, firstIndex };
}

/** Refused as data (the committer then isolates the row), not as an outage retried for its deadline. */
function assertStorable(batch: CommitBatch): void {
  for (const reading of batch.readings) {
    if (!Number.isFinite(reading.ts) || !Number.isFinite(reading.receivedAt)) {
      throw new StoreError('store_refused_data', 'store commit failed: reading time is not a finite ms timestamp');
    }
  }
  for (const letter of batch.deadLetters) {
    if (!Number.isFinite(letter.receivedAt)) {
      throw new StoreError('store_refused_data', 'store commit failed: dead letter time is not a finite ms timestamp');
    }
  }
}

/** Longest a read waits for the rollup journal to be folded before it reads rollups that may lag. */
export const SETTLE_WAIT_MS = 5_000;
/** Longest close() spends folding this store's own journal rows. */
export const LAST_FOLD_MS = 10_000;

export class SqlReadingStore implements ReadingStore {
  readonly kind: 'pglite' | 'postgres';
  private readonly partitions: PartitionManager;
  private lenientCommitsLeft = 0;
  private readonly pathCounts: CommitPathCounts = { strict: 0, lenient: 0, conflicts: 0 };
  private readonly journal: RollupJournal;
  /** Bounds the API's reads in number, waiting and time (read-budget.ts); commits never pass it. */
  private readonly readBudget: ReadBudget;
  /** The API's statements go to the executor's read side (read pool, or behind writes on PGlite). */
  private readonly reader: SqlQueryable;

  constructor(
    private readonly executor: SqlExecutor,
    options: {
      readonly journalBacklogBytes?: number;
      readonly journalVacuumIntervalMs?: number;
      readonly reads?: ReadBudgetOptions;
    } = {},
  ) {
    this.kind = executor.kind;
    this.partitions = new PartitionManager(executor);
    this.journal = new RollupJournal(executor, options.journalBacklogBytes, options.journalVacuumIntervalMs);
    this.readBudget = new ReadBudget(
      options.reads ?? {
        concurrency: executor.kind === 'pglite' ? 1 : DEFAULT_READ_CONCURRENCY,
        maxWaiting: DEFAULT_READ_QUEUE,
        maxWaitMs: DEFAULT_READ_WAIT_MS,
      },
    );
    this.reader = { query: (text, params) => executor.read(text, params) };
  }

  /** API reads running and waiting for a slot now. */
  readLoad(): { running: number; waiting: number } {
    return this.readBudget.load;
  }

  async migrate(): Promise<void> {
    await this.guard('migrate', () => runMigrations(this.executor));
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    const counts = batch.refusalCounts?.length ?? 0;
    const signals = batch.signals?.length ?? 0;
    if (batch.readings.length === 0 && batch.deadLetters.length === 0 && counts === 0 && signals === 0) {
      return { inserted: [] };
    }
    assertStorable(batch);
    return this.guard('commit', async () => {
      // The journal's bound: while folding is far behind, commits wait for it (backpressure to ingest).
      if (this.journal.behind) await this.journal.flush().catch(() => undefined);
      let result: JournaledResult;
      try {
        result = await this.commitOnce(batch);
      } catch (error) {
        if (sqlStateOf(error) !== NO_PARTITION_SQLSTATE) throw error;
        this.partitions.forget();
        result = await this.commitOnce(batch);
      }
      this.journal.noteCommitted(result.journalBytes);
      return { inserted: result.inserted };
    });
  }

  /**
   * Folds the rollup journal into minute_buckets, minute_metrics and minute_rejects (rows it cannot
   * decode go to rollup_quarantine). The application calls it on a timer; reads of the rollups call it
   * themselves when this store committed since the last flush.
   */
  flushRollups(): Promise<FlushOutcome> {
    return this.guard('flushRollups', () => this.journal.flush());
  }

  /** Counts of the commit paths taken so far (a copy). */
  commitPaths(): CommitPathCounts {
    return { ...this.pathCounts };
  }

  /** Journal rows not yet folded into the rollups, by any hub on this database (a gauge for operators). */
  rollupBacklog(): Promise<number> {
    return this.guard('rollupBacklog', async () => {
      const [row] = await this.executor.query('SELECT count(*)::float8 AS n FROM rollup_pending');
      return toNumber(row?.['n'], 'n');
    });
  }

  totals(): Promise<StoreTotals> {
    return this.guard('totals', () => queryTotals(this.executor));
  }

  /** Refusals per reason since the store was created (dead letters kept before version 4: a lower bound). */
  rejectTotals(): Promise<Partial<Record<string, number>>> {
    return this.guard('rejectTotals', () => queryRejectTotals(this.executor));
  }

  /**
   * Deletes, oldest first and in short steps, the dead letters beyond `bounds` (dead-letter-retention.ts).
   * The application calls it on a timer; any number of hubs on one database may.
   */
  pruneDeadLetters(bounds: DeadLetterBounds, options?: PruneOptions): Promise<PruneOutcome> {
    return this.guard('pruneDeadLetters', () => pruneDeadLetters(this.executor, bounds, options));
  }

  /**
   * Up to `limit` of the device's metric names (device_metrics, fed by the rollup folds), for the
   * pipeline's bound on metrics per device. On the write side, never refused by the read budget: ingest
   * waits for it once per device after start. Names still in unfolded journal rows are not in it yet.
   */
  deviceMetricNames(device: string, limit: number): Promise<string[]> {
    return this.guard('deviceMetricNames', async () => {
      const rows = await this.executor.query(
        'SELECT metric FROM device_metrics WHERE device_id = $1 ORDER BY metric LIMIT $2',
        [device, limit],
      );
      return rows.map((row) => toText(row['metric'], 'metric'));
    });
  }

  recentDeadLetters(limit: number): Promise<DeadLetterRow[]> {
    return this.guard('recentDeadLetters', () => queryRecentDeadLetters(this.executor, limit));
  }

  minuteBuckets(device: string, fromMs: number, toMs: number): Promise<MinuteBucketRow[]> {
    return this.guard('minuteBuckets', () =>
      this.settled(() => queryMinuteBuckets(this.executor, device, fromMs, toMs)),
    );
  }

  readings(device: string, fromMs: number, toMs: number, limit: number): Promise<StoredReading[]> {
    return this.guard('readings', () => queryReadings(this.executor, device, fromMs, toMs, limit));
  }

  // --- API reads (see api-queries.ts) ---

  readingPage(query: Parameters<typeof queryReadingPage>[1]): Promise<Page<StoredReading, ReadingCursor>> {
    return this.guardRead('readingPage', () => queryReadingPage(this.reader, query));
  }

  deadLetterPage(query: {
    filter: DeadLetterFilter;
    limit: number;
    before: DeadLetterCursor | null;
  }): Promise<Page<DeadLetterRow, DeadLetterCursor>> {
    return this.guardRead('deadLetterPage', () => queryDeadLetterPage(this.reader, query));
  }

  devicePage(query: Parameters<typeof queryDevicePage>[1]): Promise<Page<DeviceSummary, string>> {
    return this.guardRead('devicePage', () => queryDevicePage(this.reader, query), { settled: true });
  }

  series(query: {
    device: string;
    fromMs: number;
    toMs: number;
    width: SeriesWidth;
    metrics: SeriesMetrics;
  }): Promise<Series> {
    return this.guardRead('series', () => querySeries(this.reader, query), { settled: true });
  }

  metricNames(query: { device: string; limit: number; after: string | null }): Promise<Page<string, string>> {
    return this.guardRead('metricNames', () => queryMetricNames(this.reader, query), { settled: true });
  }

  minuteDocuments(query: Parameters<typeof queryMinuteDocuments>[1]): Promise<Page<MinuteDocument, number>> {
    return this.guardRead('minuteDocuments', () => queryMinuteDocuments(this.reader, query), { settled: true });
  }

  // --- API accounts (see accounts.ts) ---

  createUser(user: { username: string; role: Role; passwordHash: string }): Promise<CreateUserResult> {
    return this.guard('createUser', () => insertUser(this.executor, user));
  }

  findUserByName(username: string): Promise<UserWithHash | undefined> {
    return this.guard('findUserByName', () => selectUserByName(this.executor, username));
  }

  findUserById(id: string): Promise<UserWithHash | undefined> {
    return this.guard('findUserById', () => selectUserById(this.executor, id));
  }

  listUsers(): Promise<UserRow[]> {
    return this.guard('listUsers', () => selectUsers(this.executor));
  }

  countUsers(): Promise<number> {
    return this.guard('countUsers', () => countUsers(this.executor));
  }

  updateUser(id: string, patch: UserPatch): Promise<UserRow | undefined> {
    return this.guard('updateUser', () => updateUser(this.executor, id, patch));
  }

  deleteUser(id: string): Promise<boolean> {
    return this.guard('deleteUser', () => deleteUser(this.executor, id));
  }

  /**
   * Retention: drops every daily readings partition that ends at or before `cutoffMs` (whole tables,
   * never DELETE). Minute buckets, metrics and dead letters are kept, so totals and charts outlive raw data.
   */
  dropPartitionsBefore(cutoffMs: number): Promise<string[]> {
    return this.guard('dropPartitionsBefore', () => this.partitions.dropBefore(cutoffMs));
  }

  /** Names of the daily readings partitions (readings_pYYYYMMDD), oldest first. */
  listPartitions(): Promise<string[]> {
    return this.guard('listPartitions', () => this.partitions.list());
  }

  async ping(): Promise<void> {
    await this.guard('ping', () => this.executor.query('SELECT 1'));
  }

  /**
   * Folds this store's last journal rows first, for at most LAST_FOLD_MS. A failure or a longer backlog
   * is not an error of close: the rows stay in the journal and the next flush by any hub on this
   * database folds them.
   */
  close(): Promise<void> {
    return this.guard('close', async () => {
      // A timer's flush may be running: it ends after its current step. Then this store's own rows are
      // folded for at most LAST_FOLD_MS; a longer backlog stays in the journal (durable) for the next
      // flush of any hub, instead of holding the shutdown for minutes.
      this.journal.stop();
      await this.journal.idle();
      const deadline = Date.now() + LAST_FOLD_MS;
      while (this.journal.hasOwnRowsWaiting && Date.now() < deadline) {
        const folded = await this.journal.flush().then(
          () => true,
          () => false,
        );
        if (!folded) break;
      }
      await this.executor.close();
    });
  }

  /**
   * Runs a read of the rollups after the journal holds nothing this store committed. If folding fails
   * the read still runs, on rollups that may lag: a read must not fail because of the journal (the
   * application's timer reports flush failures), and with the database down the read fails by itself.
   */
  private async settled<T>(read: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.journal.settle().catch(() => undefined),
      // A backlog (after an outage, or left by a crashed hub) is folded in steps that may take long:
      // the read then runs on rollups that lag, rather than waiting for all of it.
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    return read();
  }

  private async commitOnce(batch: CommitBatch): Promise<JournaledResult> {
    await this.partitions.ensure(batch.readings.map((r) => dayStartOf(r.ts)));
    if (batch.readings.length > 0 && this.lenientCommitsLeft === 0 && strictlyStorable(batch.readings)) {
      try {
        const result = await this.commitStrict(batch);
        this.pathCounts.strict += 1;
        return result;
      } catch (error) {
        if (sqlStateOf(error) !== UNIQUE_VIOLATION_SQLSTATE) throw error;
        this.pathCounts.conflicts += 1;
        this.lenientCommitsLeft = LENIENT_COMMITS_AFTER_CONFLICT;
      }
    }
    const result = await this.commitLenient(batch);
    this.pathCounts.lenient += 1;
    if (this.lenientCommitsLeft > 0) {
      const allNew = result.inserted.every((fresh) => fresh);
      this.lenientCommitsLeft = allNew ? 0 : this.lenientCommitsLeft - 1;
    }
    return result;
  }

  /**
   * Every reading is written as new; the store's unique key refuses the whole attempt (23505) if one
   * is not. Small batches are ONE statement in its own implicit transaction (readings, rollups and dead
   * letters together: one round trip); large ones are COPY + one statement inside a transaction.
   */
  private async commitStrict(batch: CommitBatch): Promise<JournaledResult> {
    const { readings, deadLetters } = batch;
    const signals = batch.signals ?? [];
    const journalRows = journalRowsOf(readings, deadLetters, batch.refusalCounts);
    // An AMQP burst's summaries (and its readings) go by COPY: see SIGNAL_COPY_ROWS.
    const copySignals = signals.length >= SIGNAL_COPY_ROWS && signalsCopyable(signals);
    if (copySignals) {
      const statement = combineWrites(secondaryParts({ journalRows, deadLetters }));
      const readingText = readingCopyText(readings);
      const signalText = signalCopyText(signals);
      await this.executor.transaction(async (tx) => {
        await tx.copyText('readings', READING_COLUMNS, readingText);
        await tx.copyText('xray_signals', SIGNAL_COLUMNS, signalText);
        if (statement !== null) await run(tx, statement);
      });
      return { inserted: new Array<boolean>(readings.length).fill(true), journalBytes: textBytes(journalRows) };
    }
    const secondary = secondaryParts({ journalRows, deadLetters, ...signalsOf(batch), strict: true });
    if (readings.length <= SMALL_BATCH_ROWS) {
      const statement = combineWrites([(offset) => insertReadingsStrict(readings, offset), ...secondary]);
      // The text depends only on which parts are present (readings travel as one JSON parameter), so it
      // is one of a handful and worth keeping prepared.
      if (statement !== null) await this.executor.write(statement.text, statement.params, { reuse: true });
    } else {
      const statement = combineWrites(secondary);
      // Built before BEGIN, so the transaction (and its locks) does not wait for the hub's CPU.
      const text = batch.copyParts === undefined ? readingCopyText(readings) : copyChunks(readings, batch.copyParts);
      await this.executor.transaction(async (tx) => {
        await tx.copyText('readings', READING_COLUMNS, text);
        if (statement !== null) await run(tx, statement);
      });
    }
    return { inserted: new Array<boolean>(readings.length).fill(true), journalBytes: textBytes(journalRows) };
  }

  /** Resends allowed: each key is inserted at most once and the answer says which rows were new. */
  private async commitLenient(batch: CommitBatch): Promise<JournaledResult> {
    const { unique, firstIndex } = dedupeBatch(batch.readings);
    const inserted = new Array<boolean>(batch.readings.length).fill(false);
    let journalBytes = 0;
    await this.executor.transaction(async (tx) => {
      const fresh = await this.insertNewReadings(tx, unique);
      const freshReadings: VerifiedReading[] = [];
      for (const position of fresh) {
        const reading = unique[position];
        const index = firstIndex[position];
        if (reading === undefined || index === undefined) throw new Error('store: insert returned an unknown row');
        inserted[index] = true;
        freshReadings.push(reading);
      }
      const journalRows = journalRowsOf(freshReadings, batch.deadLetters, batch.refusalCounts);
      journalBytes = textBytes(journalRows);
      const statement = combineWrites(
        secondaryParts({ journalRows, deadLetters: batch.deadLetters, ...signalsOf(batch) }),
      );
      if (statement !== null) await run(tx, statement);
    });
    return { inserted, journalBytes };
  }

  /** Zero-based positions in `unique` of the readings that were not stored before. */
  private async insertNewReadings(tx: SqlTransaction, unique: readonly VerifiedReading[]): Promise<number[]> {
    if (unique.length === 0) return [];
    if (unique.length <= SMALL_BATCH_ROWS) {
      const inline = insertReadingsInline(unique);
      const rows = await tx.query(inline.text, inline.params);
      return rows.map((row) => toNumber(row['ord'], 'ord') - 1).sort((a, b) => a - b);
    }
    await tx.query(CREATE_READING_STAGE);
    await tx.copyText(READING_STAGE_TABLE, READING_STAGE_COLUMNS, readingStageText(unique));
    const rows = await tx.query(INSERT_STAGED_READINGS);
    return rows.map((row) => toNumber(row['ord'], 'ord') - 1).sort((a, b) => a - b);
  }

  private async guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      // A read the budget turned away is an answer (503 reads_busy), not a store failure.
      if (error instanceof ReadsBusyError) throw error;
      throw storeFailure(operation, error);
    }
  }

  /**
   * An API read: after the journal settled (for reads of the rollups; that wait holds no read slot),
   * within the read budget, on the executor's read side.
   */
  private guardRead<T>(operation: string, read: () => Promise<T>, options: { settled?: boolean } = {}): Promise<T> {
    const budgeted = (): Promise<T> => this.readBudget.run(read);
    return this.guard(operation, () => (options.settled === true ? this.settled(budgeted) : budgeted()));
  }
}

/** A commit's answer and the size of the journal rows it appended (the journal's backlog bound). */
interface JournaledResult extends CommitResult {
  readonly journalBytes: number;
}

function textBytes(texts: readonly string[]): number {
  let bytes = 0;
  for (const text of texts) bytes += text.length; // JSON of ASCII ids and names: UTF-16 units ≈ bytes
  return bytes;
}

/**
 * The batch's COPY text as byte chunks: the rows made in advance as they are, the other parts formatted
 * here. The parts must cover the readings exactly (the committer makes them so); if not, none is used.
 */
function copyChunks(readings: readonly VerifiedReading[], parts: readonly CopyPart[]): string | Uint8Array[] {
  let total = 0;
  for (const part of parts) total += part.readings;
  if (total !== readings.length) return readingCopyText(readings);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const part of parts) {
    const rows = part.rows ?? Buffer.from(readingCopyText(readings.slice(at, at + part.readings)), 'utf8');
    if (rows.length > 0) chunks.push(rows);
    at += part.readings;
  }
  return chunks;
}

/** The minute deltas of a commit as journal rows (usually one), or none when it has none (e.g. all resends). */
function journalRowsOf(
  readings: readonly VerifiedReading[],
  deadLetters: CommitBatch['deadLetters'],
  refusalCounts: CommitBatch['refusalCounts'] = [],
): string[] {
  if (readings.length === 0 && deadLetters.length === 0 && refusalCounts.length === 0) return [];
  return encodeJournalRows(foldMinutes(readings, deadLetters, refusalCounts));
}

function signalsOf(batch: CommitBatch): { signals?: CommitBatch['signals'] } {
  return batch.signals === undefined ? {} : { signals: batch.signals };
}

function run(tx: SqlQueryable, statement: Statement): ReturnType<SqlQueryable['query']> {
  return tx.query(statement.text, statement.params);
}
