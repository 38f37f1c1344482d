/**
 * Read-side queries: totals, recent dead letters, minute buckets with their metrics, raw readings.
 * Time ranges are half-open, [fromMs, toMs). Each is one statement, so one snapshot.
 */
import type { DeadLetterRow, MinuteBucketRow, SourceKind, StoreTotals, StoredReading } from '../pipeline/ports.js';
import type { SqlQueryable } from './sql-executor.js';
import { msOf, toJsonObject, toNumber, toText } from './sql-values.js';
import { DEAD_LETTER_COLUMNS, toDeadLetterRow } from './dead-letter-rows.js';

type Metrics = Record<string, { min: number; max: number; sum: number; count: number }>;

function assertLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error('store: limit must be a non-negative integer');
}

/** Year 1 to the end of JavaScript time: inside PostgreSQL's timestamptz range, so any bound is accepted. */
const EARLIEST_MS = -62_135_596_800_000;
const LATEST_MS = 8_640_000_000_000_000;

/** Clamps a range bound (±Infinity allowed) into what to_timestamp can represent. */
function rangeBound(ms: number): number {
  if (Number.isNaN(ms)) throw new Error('store: time range bound is NaN');
  return Math.min(LATEST_MS, Math.max(EARLIEST_MS, ms));
}

/**
 * The entries of one kind (`b` buckets, `r` rejects) of every rollup-journal row not yet folded, as JSON
 * arrays of the width the codec writes (store/journal-codec.ts). Entries of another shape are skipped: a
 * fold moves their rows to rollup_quarantine, whose counts are in no rollup. (A row mixing good and bad
 * entries is quarantined whole by a fold but counted here for its good entries until then; only another
 * version of the hub writes such rows.)
 */
function pendingJournalEntries(kind: 'b' | 'r', width: number): string {
  return `SELECT e FROM rollup_pending p,
      json_array_elements(CASE WHEN json_typeof(p.deltas -> '${kind}') = 'array' THEN p.deltas -> '${kind}'
                               ELSE '[]'::json END) AS e
    WHERE json_typeof(e) = 'array' AND json_array_length(e) = ${width}`;
}

/** A JSON array element as a count, 0 unless it is a JSON number. */
function countAt(index: number): string {
  return `CASE WHEN json_typeof(e -> ${index}) = 'number' THEN (e ->> ${index})::numeric ELSE 0 END`;
}

/**
 * Sums over the minute buckets (dead letters without a device sit under device ''), never over readings,
 * plus the journal rows not yet folded into them: one statement, so one snapshot, in which a fold has
 * either moved a row's counts into the buckets or not at all. Exact without waiting for folds, which
 * after a restart behind a large backlog could take longer than a reader should wait.
 */
export async function queryTotals(db: SqlQueryable): Promise<StoreTotals> {
  const [row] = await db.query(
    `WITH pending AS (${pendingJournalEntries('b', 4)})
     SELECT ((SELECT coalesce(sum(valid), 0) FROM minute_buckets) +
             (SELECT coalesce(sum(${countAt(2)}), 0) FROM pending))::float8 AS valid,
            ((SELECT coalesce(sum(invalid), 0) FROM minute_buckets) +
             (SELECT coalesce(sum(${countAt(3)}), 0) FROM pending))::float8 AS invalid`,
  );
  return { valid: toNumber(row?.['valid'], 'valid'), invalid: toNumber(row?.['invalid'], 'invalid') };
}

/** Refusals per reason over every minute kept, journal rows not yet folded included (see queryTotals). */
export async function queryRejectTotals(db: SqlQueryable): Promise<Partial<Record<string, number>>> {
  const rows = await db.query(
    `SELECT reason, sum(count)::float8 AS count FROM (
       SELECT reason, count FROM minute_rejects
       UNION ALL
       SELECT e ->> 2, ${countAt(3)} FROM (${pendingJournalEntries('r', 4)}) AS pending
       WHERE json_typeof(e -> 2) = 'string'
     ) AS all_rejects GROUP BY reason`,
  );
  const totals: Partial<Record<string, number>> = {};
  for (const row of rows) totals[toText(row['reason'], 'reason')] = toNumber(row['count'], 'count');
  return totals;
}

export async function queryRecentDeadLetters(db: SqlQueryable, limit: number): Promise<DeadLetterRow[]> {
  assertLimit(limit);
  const rows = await db.query(
    `SELECT ${DEAD_LETTER_COLUMNS}
     FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map(toDeadLetterRow);
}

export async function queryMinuteBuckets(
  db: SqlQueryable,
  device: string,
  fromMs: number,
  toMs: number,
): Promise<MinuteBucketRow[]> {
  const rows = await db.query(
    `SELECT ${msOf('b.minute')} AS minute_ms, b.valid, b.invalid, m.metric, m.min, m.max, m.sum, m.count
     FROM minute_buckets b
     LEFT JOIN minute_metrics m ON m.device_id = b.device_id AND m.minute = b.minute
     WHERE b.device_id = $1 AND b.minute >= to_timestamp($2::float8 / 1000.0) AND b.minute < to_timestamp($3::float8 / 1000.0)
     ORDER BY b.minute, m.metric`,
    [device, rangeBound(fromMs), rangeBound(toMs)],
  );
  const buckets: Array<{ device: string; minute: number; valid: number; invalid: number; metrics: Metrics }> = [];
  for (const row of rows) {
    const minute = toNumber(row['minute_ms'], 'minute');
    let bucket = buckets.at(-1);
    if (bucket === undefined || bucket.minute !== minute) {
      bucket = {
        device,
        minute,
        valid: toNumber(row['valid'], 'valid'),
        invalid: toNumber(row['invalid'], 'invalid'),
        // No prototype: a metric may be called `__proto__` (an ordinary JSON key).
        metrics: Object.create(null) as Metrics,
      };
      buckets.push(bucket);
    }
    if (row['metric'] !== null && row['metric'] !== undefined) {
      bucket.metrics[toText(row['metric'], 'metric')] = {
        min: toNumber(row['min'], 'min'),
        max: toNumber(row['max'], 'max'),
        sum: toNumber(row['sum'], 'sum'),
        count: toNumber(row['count'], 'count'),
      };
    }
  }
  return buckets;
}

export async function queryReadings(
  db: SqlQueryable,
  device: string,
  fromMs: number,
  toMs: number,
  limit: number,
): Promise<StoredReading[]> {
  assertLimit(limit);
  const rows = await db.query(
    `SELECT device_id, seq, ${msOf('ts')} AS ts_ms, ${msOf('received_at')} AS received_ms, source, data
     FROM readings
     WHERE device_id = $1 AND ts >= to_timestamp($2::float8 / 1000.0) AND ts < to_timestamp($3::float8 / 1000.0)
     ORDER BY ts, seq LIMIT $4`,
    [device, rangeBound(fromMs), rangeBound(toMs), limit],
  );
  return rows.map((row) => ({
    device: toText(row['device_id'], 'device_id'),
    seq: toNumber(row['seq'], 'seq'),
    ts: toNumber(row['ts_ms'], 'ts'),
    receivedAt: toNumber(row['received_ms'], 'received_at'),
    source: toText(row['source'], 'source') as SourceKind,
    data: toJsonObject(row['data'], 'data'),
  }));
}
