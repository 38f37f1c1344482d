/**
 * The ReadingStore over any SqlExecutor: commit orchestration plus delegation to migrations, partitions
 * and queries. A commit is: make sure the day partitions exist (own short transaction, see
 * partitions.ts), then ONE transaction holding the readings insert, the minute bucket and metric
 * upserts (for newly inserted readings only) and the dead letters. Every failure surfaces as an Error
 * naming the step and the SQLSTATE, never data values.
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
} from '../pipeline/ports.js';
import {
  CREATE_READING_STAGE,
  INSERT_STAGED_READINGS,
  insertDeadLetters,
  insertReadingsInline,
  READING_STAGE_COLUMNS,
  READING_STAGE_TABLE,
  readingStageText,
  SMALL_BATCH_ROWS,
  upsertBuckets,
  upsertMetrics,
} from './commit-statements.js';
import {
  countUsers,
  insertUser,
  selectUserById,
  selectUserByName,
  selectUsers,
  updateUser,
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
  querySeries,
  type DeadLetterCursor,
  type DeadLetterFilter,
  type DeviceSummary,
  type MinuteDocument,
  type Page,
  type ReadingCursor,
  type SeriesPoint,
  type SeriesWidth,
} from './api-queries.js';
import { runMigrations } from './migrate.js';
import { aggregateMinutes } from './minute-aggregates.js';
import { dayStartOf, PartitionManager } from './partitions.js';
import { queryMinuteBuckets, queryReadings, queryRecentDeadLetters, queryTotals } from './queries.js';
import type { SqlExecutor, SqlQueryable, SqlTransaction } from './sql-executor.js';
import { toNumber } from './sql-values.js';
import { sqlStateOf, storeFailure } from './store-errors.js';

/** check_violation: "no partition of relation found for row" when another process dropped a cached day. */
const NO_PARTITION_SQLSTATE = '23514';

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

function assertStorable(batch: CommitBatch): void {
  for (const reading of batch.readings) {
    if (!Number.isFinite(reading.ts) || !Number.isFinite(reading.receivedAt)) {
      throw new Error('store: reading time is not a finite ms timestamp');
    }
  }
  for (const letter of batch.deadLetters) {
    if (!Number.isFinite(letter.receivedAt)) throw new Error('store: dead letter time is not a finite ms timestamp');
  }
}

export class SqlReadingStore implements ReadingStore {
  readonly kind: 'pglite' | 'postgres';
  private readonly partitions: PartitionManager;

  constructor(private readonly executor: SqlExecutor) {
    this.kind = executor.kind;
    this.partitions = new PartitionManager(executor);
  }

  async migrate(): Promise<void> {
    await this.guard('migrate', () => runMigrations(this.executor));
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    if (batch.readings.length === 0 && batch.deadLetters.length === 0) return { inserted: [] };
    assertStorable(batch);
    return this.guard('commit', async () => {
      try {
        return await this.commitOnce(batch);
      } catch (error) {
        if (sqlStateOf(error) !== NO_PARTITION_SQLSTATE) throw error;
        this.partitions.forget();
        return this.commitOnce(batch);
      }
    });
  }

  totals(): Promise<StoreTotals> {
    return this.guard('totals', () => queryTotals(this.executor));
  }

  recentDeadLetters(limit: number): Promise<DeadLetterRow[]> {
    return this.guard('recentDeadLetters', () => queryRecentDeadLetters(this.executor, limit));
  }

  minuteBuckets(device: string, fromMs: number, toMs: number): Promise<MinuteBucketRow[]> {
    return this.guard('minuteBuckets', () => queryMinuteBuckets(this.executor, device, fromMs, toMs));
  }

  readings(device: string, fromMs: number, toMs: number, limit: number): Promise<StoredReading[]> {
    return this.guard('readings', () => queryReadings(this.executor, device, fromMs, toMs, limit));
  }

  // --- API reads (see api-queries.ts) ---

  readingPage(query: Parameters<typeof queryReadingPage>[1]): Promise<Page<StoredReading, ReadingCursor>> {
    return this.guard('readingPage', () => queryReadingPage(this.executor, query));
  }

  deadLetterPage(query: {
    filter: DeadLetterFilter;
    limit: number;
    before: DeadLetterCursor | null;
  }): Promise<Page<DeadLetterRow, DeadLetterCursor>> {
    return this.guard('deadLetterPage', () => queryDeadLetterPage(this.executor, query));
  }

  devicePage(query: Parameters<typeof queryDevicePage>[1]): Promise<Page<DeviceSummary, string>> {
    return this.guard('devicePage', () => queryDevicePage(this.executor, query));
  }

  series(query: {
    device: string;
    fromMs: number;
    toMs: number;
    width: SeriesWidth;
    metric?: string;
  }): Promise<SeriesPoint[]> {
    return this.guard('series', () => querySeries(this.executor, query));
  }

  minuteDocuments(query: Parameters<typeof queryMinuteDocuments>[1]): Promise<Page<MinuteDocument, number>> {
    return this.guard('minuteDocuments', () => queryMinuteDocuments(this.executor, query));
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

  close(): Promise<void> {
    return this.guard('close', () => this.executor.close());
  }

  private async commitOnce(batch: CommitBatch): Promise<CommitResult> {
    await this.partitions.ensure(batch.readings.map((r) => dayStartOf(r.ts)));
    const { unique, firstIndex } = dedupeBatch(batch.readings);
    const inserted = new Array<boolean>(batch.readings.length).fill(false);
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
      const { buckets, metrics } = aggregateMinutes(freshReadings, batch.deadLetters);
      if (buckets.length > 0) await run(tx, upsertBuckets(buckets));
      if (metrics.length > 0) await run(tx, upsertMetrics(metrics));
      if (batch.deadLetters.length > 0) await run(tx, insertDeadLetters(batch.deadLetters));
    });
    return { inserted };
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
      throw storeFailure(operation, error);
    }
  }
}

function run(
  tx: SqlQueryable,
  statement: { text: string; params: readonly unknown[] },
): ReturnType<SqlQueryable['query']> {
  return tx.query(statement.text, statement.params);
}
