/**
 * Daily partitions of `readings`: names, on-demand creation and retention drops. Creation runs in its
 * own short transaction before a commit, not inside it: CREATE ... PARTITION OF locks the parent
 * exclusively, which would otherwise be held for the whole commit and stall concurrent writers. An
 * empty partition left by a commit that later fails is harmless. The set of known days is a cache;
 * it only grows after a creation transaction committed.
 */
import { MIGRATION_LOCK_CLASS } from './migrate.js';
import type { SqlExecutor, SqlQueryable } from './sql-executor.js';
import { StoreError } from '../pipeline/store-error.js';
import { sqlStateOf } from './store-errors.js';
import { toText } from './sql-values.js';

export const DAY_MS = 86_400_000;
const PARTITION_LOCK_CLASS = MIGRATION_LOCK_CLASS + 1;
const PARTITION_NAME = /^readings_p(\d{4})(\d{2})(\d{2})$/;
/** Years 1000..9999: four-digit years, so names and ISO literals stay plain (Date.UTC maps 0..99 to 19xx). */
const MIN_DAY_MS = Date.UTC(1000, 0, 1);
const MAX_DAY_MS = Date.UTC(9999, 11, 31);
/** Errors another process's concurrent CREATE can cause: duplicate_table, unique_violation, duplicate_object. */
const RACE_SQLSTATES = new Set(['42P07', '23505', '42710']);
const CREATE_ATTEMPTS = 3;

export function dayStartOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function partitionNameOf(dayStartMs: number): string {
  const iso = new Date(dayStartMs).toISOString();
  return `readings_p${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

/** Start of the day a partition name covers, or null for tables that are not ours. */
export function dayOfPartitionName(name: string): number | null {
  const match = PARTITION_NAME.exec(name);
  if (match === null) return null;
  const [, year, month, day] = match;
  return Date.UTC(Number(year), Number(month) - 1, Number(day));
}

function assertPartitionableDay(dayStartMs: number): void {
  if (!Number.isFinite(dayStartMs) || dayStartMs < MIN_DAY_MS || dayStartMs > MAX_DAY_MS) {
    // One reading's data, not an outage: the committer isolates it instead of retrying the batch.
    throw new StoreError(
      'store_refused_data',
      'store: reading timestamp outside the storable range (years 1000..9999)',
    );
  }
}

async function lockPartitions(tx: SqlQueryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK_CLASS}, hashtext(coalesce(current_schema(), '')))`);
}

export class PartitionManager {
  private readonly knownDays = new Set<number>();

  constructor(private readonly executor: SqlExecutor) {}

  /** Makes sure a partition exists for each day (start-of-day ms) given. */
  async ensure(dayStarts: Iterable<number>): Promise<void> {
    const missing = [...new Set(dayStarts)].filter((day) => !this.knownDays.has(day)).sort((a, b) => a - b);
    if (missing.length === 0) return;
    for (const day of missing) assertPartitionableDay(day);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.executor.transaction(async (tx) => {
          await lockPartitions(tx);
          for (const day of missing) {
            // DDL takes no parameters; the name and bounds are derived from a number, never from input text.
            const from = new Date(day).toISOString();
            const to = new Date(day + DAY_MS).toISOString();
            await tx.query(
              `CREATE TABLE IF NOT EXISTS ${partitionNameOf(day)} PARTITION OF readings FOR VALUES FROM ('${from}') TO ('${to}')`,
            );
          }
        });
        break;
      } catch (error) {
        const state = sqlStateOf(error);
        if (attempt >= CREATE_ATTEMPTS || state === undefined || !RACE_SQLSTATES.has(state)) throw error;
      }
    }
    for (const day of missing) this.knownDays.add(day);
  }

  /** Drops the cache, e.g. after an insert found no partition because another process dropped it. */
  forget(): void {
    this.knownDays.clear();
  }

  /** Names of the existing daily partitions, oldest first. */
  async list(): Promise<string[]> {
    const rows = await this.executor.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = to_regclass('readings')`,
    );
    return rows
      .map((row) => toText(row['name'], 'name'))
      .filter((name) => dayOfPartitionName(name) !== null)
      .sort();
  }

  /** Drops every partition whose whole day ends at or before `cutoffMs`; returns the dropped names. */
  async dropBefore(cutoffMs: number): Promise<string[]> {
    if (!Number.isFinite(cutoffMs)) throw new Error('store: retention cutoff must be a finite ms timestamp');
    return this.executor.transaction(async (tx) => {
      await lockPartitions(tx);
      const rows = await tx.query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = to_regclass('readings')`,
      );
      const dropped: string[] = [];
      for (const row of rows) {
        const name = toText(row['name'], 'name');
        const day = dayOfPartitionName(name);
        if (day === null || day + DAY_MS > cutoffMs) continue;
        await tx.query(`DROP TABLE IF EXISTS ${name}`);
        this.knownDays.delete(day);
        dropped.push(name);
      }
      return dropped.sort();
    });
  }
}
