/**
 * The SQL of the minute rollups: the journal row a commit appends, the statement that takes journal rows
 * out, and the upserts that fold them into minute_buckets, minute_metrics and minute_rejects.
 *
 * Why a journal: folding every commit straight into the rollup rows made each commit upsert a few
 * hundred rows that every other commit also updates (one bucket per device and minute, one metric row
 * per metric). At 20K readings/s in small low-latency commits that was most of PostgreSQL's work and of
 * the commit time. Appending one row per commit is cheap; the upserts then run once per flush.
 */
import type { BucketDelta, MetricDelta, MinuteDeltas, RejectDelta } from './minute-aggregates.js';
import { placeholders, type Statement } from './statement.js';

/**
 * float8 addition that never fails: PostgreSQL raises "value out of range: overflow" when two finite
 * values add up past the largest double, so one device sending 1e308 twice in a minute would otherwise
 * make every later flush of that minute fail. Here an overflowing sum becomes ±Infinity, as in JavaScript.
 */
function safeAdd(a: string, b: string): string {
  return `CASE WHEN sign(${a}) = sign(${b}) AND abs(${a}) > 1.7976931348623157e308 - abs(${b})
      THEN sign(${a}) * 'Infinity'::float8 ELSE ${a} + ${b} END`;
}

export function upsertBuckets(buckets: readonly BucketDelta[], offset = 0): Statement {
  const [devices, minutes, valid, invalid] = placeholders(offset, 4);
  return {
    text: `INSERT INTO minute_buckets (device_id, minute, valid, invalid)
      SELECT device_id, to_timestamp(minute_ms / 1000.0), valid, invalid
      FROM unnest(${devices}::text[], ${minutes}::float8[], ${valid}::bigint[], ${invalid}::bigint[])
        AS u(device_id, minute_ms, valid, invalid)
      ON CONFLICT (device_id, minute) DO UPDATE SET
        valid = minute_buckets.valid + EXCLUDED.valid,
        invalid = minute_buckets.invalid + EXCLUDED.invalid`,
    params: [
      buckets.map((b) => b.device),
      buckets.map((b) => b.minuteMs),
      buckets.map((b) => b.valid),
      buckets.map((b) => b.invalid),
    ],
  };
}

export function upsertMetrics(metrics: readonly MetricDelta[], offset = 0): Statement {
  const [devices, minutes, names, min, max, sum, count] = placeholders(offset, 7);
  return {
    text: `INSERT INTO minute_metrics (device_id, minute, metric, min, max, sum, count)
      SELECT device_id, to_timestamp(minute_ms / 1000.0), metric, min, max, sum, count
      FROM unnest(${devices}::text[], ${minutes}::float8[], ${names}::text[], ${min}::float8[], ${max}::float8[],
        ${sum}::float8[], ${count}::bigint[])
        AS u(device_id, minute_ms, metric, min, max, sum, count)
      ON CONFLICT (device_id, minute, metric) DO UPDATE SET
        min = least(minute_metrics.min, EXCLUDED.min),
        max = greatest(minute_metrics.max, EXCLUDED.max),
        sum = ${safeAdd('minute_metrics.sum', 'EXCLUDED.sum')},
        count = minute_metrics.count + EXCLUDED.count`,
    params: [
      metrics.map((m) => m.device),
      metrics.map((m) => m.minuteMs),
      metrics.map((m) => m.metric),
      metrics.map((m) => m.min),
      metrics.map((m) => m.max),
      metrics.map((m) => m.sum),
      metrics.map((m) => m.count),
    ],
  };
}

/** The device's metric names the fold saw, into device_metrics (the names bound, and series pages). */
export function insertDeviceMetrics(metrics: readonly MetricDelta[], offset = 0): Statement {
  const [devices, names] = placeholders(offset, 2);
  return {
    text: `INSERT INTO device_metrics (device_id, metric)
      SELECT DISTINCT device_id, metric FROM unnest(${devices}::text[], ${names}::text[]) AS u(device_id, metric)
      ORDER BY 1, 2
      ON CONFLICT (device_id, metric) DO NOTHING`,
    params: [metrics.map((m) => m.device), metrics.map((m) => m.metric)],
  };
}

export function upsertRejects(rejects: readonly RejectDelta[], offset = 0): Statement {
  const [devices, minutes, reasons, counts] = placeholders(offset, 4);
  return {
    text: `INSERT INTO minute_rejects (device_id, minute, reason, count)
      SELECT device_id, to_timestamp(minute_ms / 1000.0), reason, count
      FROM unnest(${devices}::text[], ${minutes}::float8[], ${reasons}::text[], ${counts}::bigint[])
        AS u(device_id, minute_ms, reason, count)
      ON CONFLICT (device_id, minute, reason) DO UPDATE SET count = minute_rejects.count + EXCLUDED.count`,
    params: [
      rejects.map((r) => r.device),
      rejects.map((r) => r.minuteMs),
      rejects.map((r) => r.reason),
      rejects.map((r) => r.count),
    ],
  };
}

/** The upserts of folded deltas, in a fixed order (each sorted by key, so concurrent flushes cannot deadlock). */
export function rollupUpsertParts(deltas: MinuteDeltas): Array<(offset: number) => Statement> {
  const parts: Array<(offset: number) => Statement> = [];
  if (deltas.buckets.length > 0) parts.push((offset) => upsertBuckets(deltas.buckets, offset));
  if (deltas.metrics.length > 0) {
    parts.push((offset) => upsertMetrics(deltas.metrics, offset));
    parts.push((offset) => insertDeviceMetrics(deltas.metrics, offset));
  }
  if (deltas.rejects.length > 0) parts.push((offset) => upsertRejects(deltas.rejects, offset));
  return parts;
}

/** Appends one commit's deltas (journal-codec.ts texts: one row, or several for a large commit), inside that commit. */
export function insertJournalRows(rows: readonly string[], offset = 0): Statement {
  // json, not jsonb: stored as the text it is, so PostgreSQL only validates it instead of converting.
  const values = placeholders(offset, rows.length).map((placeholder) => `(${placeholder}::json)`);
  return { text: `INSERT INTO rollup_pending (deltas) VALUES ${values.join(', ')}`, params: [...rows] };
}

/**
 * Serialises flushes across every hub on the database (a transaction-level advisory lock, keyed by the
 * schema so stores in other schemas do not wait on each other). Not needed for correctness — a journal
 * row is deleted and folded in one transaction, so it counts once whoever takes it — but it keeps two
 * flushers from blocking on each other's row locks.
 */
export const LOCK_FLUSH = `SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '.rollup_pending'))`;

/** Whether the journal holds anything: checked before opening a flush transaction, so an idle hub writes nothing. */
export const JOURNAL_HAS_ROWS = `SELECT EXISTS (SELECT 1 FROM rollup_pending) AS has_rows`;

/**
 * Takes (deletes) the oldest journal rows — at most `limit` rows, and no more rows once `maxBytes` of
 * deltas text were taken (the first row always is) — and returns their ids and deltas as text.
 */
export function takeJournalRows(limit: number, maxBytes: number): Statement {
  return {
    text: `DELETE FROM rollup_pending WHERE id IN (
        SELECT id FROM (
          SELECT id, sum(octet_length(deltas::text)) OVER (ORDER BY id) - octet_length(deltas::text) AS bytes_before
          FROM (SELECT id, deltas FROM rollup_pending ORDER BY id LIMIT $1) AS oldest
        ) AS sized
        WHERE bytes_before < $2)
      RETURNING id::text AS id, deltas::text AS deltas`,
    params: [limit, maxBytes],
  };
}

/** Keeps journal rows that could not be decoded or folded, with why, in the flush that took them. */
export function quarantineJournalRows(rows: ReadonlyArray<{ id: string; deltas: string; error: string }>): Statement {
  return {
    text: `INSERT INTO rollup_quarantine (id, deltas, error)
      SELECT id, deltas, error FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, deltas, error)
      ON CONFLICT (id) DO NOTHING`,
    params: [rows.map((r) => r.id), rows.map((r) => r.deltas), rows.map((r) => r.error)],
  };
}
