/**
 * Read-side queries behind the REST API: keyset-paged readings, dead letters and devices (never OFFSET:
 * each page starts where the previous one ended, on an index), series folded from the per-minute
 * buckets into wider buckets, and the seed's per-minute document view. Time ranges are half-open,
 * [fromMs, toMs); every statement is a single snapshot.
 */
import type {
  DeviceSummary as ContractDeviceSummary,
  MinuteDocument as ContractMinuteDocument,
  SeriesPoint as ContractSeriesPoint,
} from '@sealstream/contract';
import type { ReasonCode } from '@sealstream/protocol';
import type { DeadLetterRow, SourceKind, StoredReading } from '../pipeline/ports.js';
import { UNKNOWN_DEVICE } from './minute-aggregates.js';
import type { SqlQueryable } from './sql-executor.js';
import { msOf, toBoolean, toJsonObject, toNullableText, toNumber, toText } from './sql-values.js';
import { DEAD_LETTER_COLUMNS, toDeadLetterRow } from './dead-letter-rows.js';

/** Year 1 to the end of JavaScript time: inside PostgreSQL's timestamptz range. */
const EARLIEST_MS = -62_135_596_800_000;
const LATEST_MS = 8_640_000_000_000_000;

function bound(ms: number): number {
  if (Number.isNaN(ms)) throw new Error('store: time bound is NaN');
  return Math.min(LATEST_MS, Math.max(EARLIEST_MS, ms));
}

function assertPageSize(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100_000) throw new Error('store: page size out of range');
}

/** Same expression the commit path writes with, so a cursor's ms compares equal to the stored value. */
const AT = (param: string): string => `to_timestamp(${param}::float8 / 1000.0)`;

export interface Page<T, C> {
  readonly items: T[];
  /** Where the next page starts; null when this page reached the end. */
  readonly next: C | null;
}

export interface ReadingCursor {
  readonly ts: number;
  readonly seq: number;
}

function toReading(row: Record<string, unknown>): StoredReading {
  return {
    device: toText(row['device_id'], 'device_id'),
    seq: toNumber(row['seq'], 'seq'),
    ts: toNumber(row['ts_ms'], 'ts'),
    receivedAt: toNumber(row['received_ms'], 'received_at'),
    source: toText(row['source'], 'source') as SourceKind,
    data: toJsonObject(row['data'], 'data'),
  };
}

/** Readings of one device in [from, to), ordered by (ts, seq), starting after `after`. */
export async function queryReadingPage(
  db: SqlQueryable,
  query: { device: string; fromMs: number; toMs: number; limit: number; after: ReadingCursor | null },
): Promise<Page<StoredReading, ReadingCursor>> {
  assertPageSize(query.limit);
  const params: unknown[] = [query.device, bound(query.fromMs), bound(query.toMs), query.limit + 1];
  let afterClause = '';
  if (query.after !== null) {
    params.push(bound(query.after.ts), query.after.seq);
    afterClause = `AND (ts, seq) > (${AT('$5')}, $6::bigint)`;
  }
  const rows = await db.query(
    `SELECT device_id, seq, ${msOf('ts')} AS ts_ms, ${msOf('received_at')} AS received_ms, source, data
     FROM readings
     WHERE device_id = $1 AND ts >= ${AT('$2')} AND ts < ${AT('$3')} ${afterClause}
     ORDER BY ts, seq LIMIT $4`,
    params,
  );
  const items = rows.slice(0, query.limit).map(toReading);
  const last = items.at(-1);
  return { items, next: rows.length > query.limit && last !== undefined ? { ts: last.ts, seq: last.seq } : null };
}

export interface DeadLetterFilter {
  readonly reason?: ReasonCode;
  readonly source?: SourceKind;
  readonly device?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
}

export interface DeadLetterCursor {
  readonly receivedAt: number;
  readonly id: string;
}

/** Dead letters matching every given filter, newest first, keyset on (received_at, id) descending. */
export async function queryDeadLetterPage(
  db: SqlQueryable,
  query: { filter: DeadLetterFilter; limit: number; before: DeadLetterCursor | null },
): Promise<Page<DeadLetterRow, DeadLetterCursor>> {
  assertPageSize(query.limit);
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const { filter } = query;
  if (filter.reason !== undefined) where.push(`reason = ${add(filter.reason)}`);
  if (filter.source !== undefined) where.push(`source = ${add(filter.source)}`);
  if (filter.device !== undefined) where.push(`device_id = ${add(filter.device)}`);
  if (filter.fromMs !== undefined) where.push(`received_at >= ${AT(add(bound(filter.fromMs)))}`);
  if (filter.toMs !== undefined) where.push(`received_at < ${AT(add(bound(filter.toMs)))}`);
  if (query.before !== null) {
    if (!/^[0-9]{1,18}$/.test(query.before.id)) throw new Error('store: dead-letter cursor id is not an id');
    where.push(`(received_at, id) < (${AT(add(bound(query.before.receivedAt)))}, ${add(query.before.id)}::bigint)`);
  }
  const limitParam = add(query.limit + 1);
  const rows = await db.query(
    `SELECT ${DEAD_LETTER_COLUMNS}
     FROM dead_letters ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
     ORDER BY received_at DESC, id DESC LIMIT ${limitParam}`,
    params,
  );
  const items: DeadLetterRow[] = rows.slice(0, query.limit).map(toDeadLetterRow);
  const last = items.at(-1);
  return {
    items,
    next: rows.length > query.limit && last !== undefined ? { receivedAt: last.receivedAt, id: last.id } : null,
  };
}

/** One device of GET /api/v1/devices: the REST contract's shape (packages/contract), built here. */
export type DeviceSummary = Readonly<ContractDeviceSummary>;

/** Devices known from the minute buckets or the registry, by id, keyset-paged after `afterDevice`. */
export async function queryDevicePage(
  db: SqlQueryable,
  query: { limit: number; afterDevice: string | null; nowMs: number },
): Promise<Page<DeviceSummary, string>> {
  assertPageSize(query.limit);
  const lastHour = `minute >= ${AT('$3')} - interval '1 hour' AND minute < ${AT('$3')}`;
  const rows = await db.query(
    `WITH seen AS (
       SELECT device_id, max(minute) AS last_minute, sum(valid) AS valid, sum(invalid) AS invalid,
         coalesce(sum(valid) FILTER (WHERE ${lastHour}), 0) AS valid_hour,
         coalesce(sum(invalid) FILTER (WHERE ${lastHour}), 0) AS invalid_hour,
         min(minute) FILTER (WHERE ${lastHour} AND valid > 0) AS first_hour_minute
       FROM minute_buckets
       WHERE device_id <> $1 AND ($2::text IS NULL OR device_id > $2::text)
       GROUP BY device_id
     ), registered AS (
       SELECT id, name, revoked_at FROM devices WHERE $2::text IS NULL OR id > $2::text
     )
     SELECT coalesce(s.device_id, r.id) AS device_id, ${msOf('s.last_minute')} AS last_ms,
       coalesce(s.valid, 0)::float8 AS valid, coalesce(s.invalid, 0)::float8 AS invalid,
       coalesce(s.valid_hour, 0)::float8 AS hour, coalesce(s.invalid_hour, 0)::float8 AS invalid_hour,
       ${msOf('s.first_hour_minute')} AS first_hour_ms,
       -- One primary-key probe per listed device: its newest reading inside its newest minute.
       (SELECT ${msOf('max(rd.ts)')} FROM readings rd
         WHERE rd.device_id = s.device_id AND rd.ts >= s.last_minute AND rd.ts < s.last_minute + interval '1 minute')
         AS last_reading_ms,
       r.id IS NOT NULL AS registered, r.name, r.revoked_at IS NOT NULL AS revoked
     FROM seen s FULL OUTER JOIN registered r ON r.id = s.device_id
     ORDER BY 1 LIMIT $4`,
    [UNKNOWN_DEVICE, query.afterDevice, bound(query.nowMs), query.limit + 1],
  );
  const items = rows.slice(0, query.limit).map((row): DeviceSummary => {
    const hour = toNumber(row['hour'], 'hour');
    const registered = toBoolean(row['registered'], 'registered');
    const lastMs: unknown = row['last_ms'];
    const lastReadingMs: unknown = row['last_reading_ms'];
    const firstHourMs: unknown = row['first_hour_ms'];
    const windowMinutes =
      firstHourMs === null || firstHourMs === undefined
        ? 60
        : Math.min(60, Math.max(1, (query.nowMs - toNumber(firstHourMs, 'first_hour_ms')) / 60_000));
    return {
      device: toText(row['device_id'], 'device_id'),
      lastSeen: lastMs === null || lastMs === undefined ? null : toNumber(lastMs, 'last_seen'),
      totalValid: toNumber(row['valid'], 'valid'),
      totalInvalid: toNumber(row['invalid'], 'invalid'),
      lastReadingAt:
        lastReadingMs === null || lastReadingMs === undefined ? null : toNumber(lastReadingMs, 'last_reading_ms'),
      validLastHour: hour,
      invalidLastHour: toNumber(row['invalid_hour'], 'invalid_hour'),
      perMinuteLastHour: Math.round((hour / windowMinutes) * 100) / 100,
      registered,
      name: toNullableText(row['name'], 'name'),
      status: !registered ? 'unregistered' : toBoolean(row['revoked'], 'revoked') ? 'revoked' : 'active',
    };
  });
  const last = items.at(-1);
  return { items, next: rows.length > query.limit && last !== undefined ? last.device : null };
}

export const SERIES_WIDTHS_MS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type SeriesWidth = keyof typeof SERIES_WIDTHS_MS;

/**
 * One bucket of a series (the REST contract's shape). `sum` and `avg` are null when not a finite number: a
 * sum can overflow a double (±∞), and +∞ and −∞ sums of one bucket meet as NaN; JSON can hold neither.
 */
export type SeriesPoint = Readonly<ContractSeriesPoint>;

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Which metrics a series carries: the names given, or a page of the device's names (device_metrics). */
export type SeriesMetrics =
  { readonly names: readonly string[] } | { readonly after: string | null; readonly limit: number };

export interface Series {
  readonly points: SeriesPoint[];
  /** The metric names whose aggregates the points carry (when they have data in a bucket), in order. */
  readonly metrics: string[];
  /** With a page of names: the last name of this page when the device has more, else null. */
  readonly nextMetric: string | null;
}

/**
 * Minute buckets of one device folded into buckets of `width`, with per-metric min/max/sum/count/avg
 * for the metrics chosen by `metrics` only (a device may have hundreds; the caller bounds how many).
 * Only buckets with data appear. `fromMs` is rounded down to the width, so every point is whole. The
 * statements run one after another: one read holds one connection.
 */
export async function querySeries(
  db: SqlQueryable,
  query: { device: string; fromMs: number; toMs: number; width: SeriesWidth; metrics: SeriesMetrics },
): Promise<Series> {
  const widthMs = SERIES_WIDTHS_MS[query.width];
  const from = Math.floor(bound(query.fromMs) / widthMs) * widthMs;
  const bucketOf = (column: string): string => `(floor(${msOf(column)} / $4::float8) * $4::float8)`;
  let names: string[];
  let nextMetric: string | null = null;
  if ('names' in query.metrics) {
    names = [...new Set(query.metrics.names)];
  } else {
    assertPageSize(query.metrics.limit);
    const rows = await db.query(
      `SELECT metric FROM device_metrics WHERE device_id = $1 AND ($2::text IS NULL OR metric > $2::text)
       ORDER BY metric LIMIT $3`,
      [query.device, query.metrics.after, query.metrics.limit + 1],
    );
    names = rows.slice(0, query.metrics.limit).map((row) => toText(row['metric'], 'metric'));
    if (rows.length > query.metrics.limit) nextMetric = names.at(-1) ?? null;
  }
  const counts = await db.query(
    `SELECT ${bucketOf('minute')} AS start_ms, sum(valid)::float8 AS valid, sum(invalid)::float8 AS invalid
     FROM minute_buckets
     WHERE device_id = $1 AND minute >= ${AT('$2')} AND minute < ${AT('$3')}
     GROUP BY 1 ORDER BY 1`,
    [query.device, from, bound(query.toMs), widthMs],
  );
  const metrics =
    names.length === 0
      ? []
      : await db.query(
          `SELECT ${bucketOf('minute')} AS start_ms, metric, min(min) AS min, max(max) AS max, sum(sum) AS sum,
             sum(count)::float8 AS count
           FROM minute_metrics
           WHERE device_id = $1 AND minute >= ${AT('$2')} AND minute < ${AT('$3')} AND metric = ANY($5::text[])
           GROUP BY 1, 2 ORDER BY 1, 2`,
          [query.device, from, bound(query.toMs), widthMs, names],
        );
  const points = new Map<number, SeriesPoint>();
  for (const row of counts) {
    const start = toNumber(row['start_ms'], 'start');
    points.set(start, {
      start,
      valid: toNumber(row['valid'], 'valid'),
      invalid: toNumber(row['invalid'], 'invalid'),
      // No prototype: a metric may be called `__proto__` or `constructor` (they are ordinary JSON keys).
      metrics: Object.create(null) as SeriesPoint['metrics'],
    });
  }
  for (const row of metrics) {
    const point = points.get(toNumber(row['start_ms'], 'start'));
    if (point === undefined) continue;
    const sum = toNumber(row['sum'], 'sum');
    const count = toNumber(row['count'], 'count');
    point.metrics[toText(row['metric'], 'metric')] = {
      min: toNumber(row['min'], 'min'),
      max: toNumber(row['max'], 'max'),
      sum: finiteOrNull(withoutFloatNoise(sum)),
      count,
      avg: count === 0 ? 0 : finiteOrNull(withoutFloatNoise(sum / count)),
    };
  }
  return { points: [...points.values()], metrics: names, nextMetric };
}

/** A page of the metric names one device has ever sent (device_metrics), by name. */
export async function queryMetricNames(
  db: SqlQueryable,
  query: { device: string; limit: number; after: string | null },
): Promise<Page<string, string>> {
  assertPageSize(query.limit);
  const rows = await db.query(
    `SELECT metric FROM device_metrics WHERE device_id = $1 AND ($2::text IS NULL OR metric > $2::text)
     ORDER BY metric LIMIT $3`,
    [query.device, query.after, query.limit + 1],
  );
  const items = rows.slice(0, query.limit).map((row) => toText(row['metric'], 'metric'));
  return { items, next: rows.length > query.limit ? (items.at(-1) ?? null) : null };
}

/**
 * Sums of decimal readings carry binary rounding noise in their last digits (0.1 + 0.2 =
 * 0.30000000000000004, 6612.299999999999): 12 significant digits keep every digit a reading can have
 * meant and drop the noise.
 */
function withoutFloatNoise(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(12)) : value;
}

/** The seed's per-minute document (the REST contract's shape); `recordsTruncated` when over `maxRecords`. */
export type MinuteDocument = Readonly<ContractMinuteDocument>;

/**
 * The seed's per-minute document: the minute's counts from the bucket, and its readings as records
 * (each reading's data plus seq, ts and receivedAt), at most `maxRecords` per minute. Paged by minute.
 */
export async function queryMinuteDocuments(
  db: SqlQueryable,
  query: {
    device: string;
    fromMs: number;
    toMs: number;
    limit: number;
    afterMinute: number | null;
    maxRecords: number;
  },
): Promise<Page<MinuteDocument, number>> {
  assertPageSize(query.limit);
  assertPageSize(query.maxRecords);
  const buckets = await db.query(
    `SELECT ${msOf('minute')} AS minute_ms, valid::float8 AS valid, invalid::float8 AS invalid
     FROM minute_buckets
     WHERE device_id = $1 AND minute >= ${AT('$2')} AND minute < ${AT('$3')}
       AND ($4::float8 IS NULL OR minute > ${AT('$4')})
     ORDER BY minute LIMIT $5`,
    [query.device, bound(query.fromMs), bound(query.toMs), query.afterMinute, query.limit + 1],
  );
  const page = buckets.slice(0, query.limit);
  const documents: MinuteDocument[] = [];
  for (const bucket of page) {
    const minute = toNumber(bucket['minute_ms'], 'minute');
    const valid = toNumber(bucket['valid'], 'valid');
    const invalid = toNumber(bucket['invalid'], 'invalid');
    const rows = await db.query(
      `SELECT device_id, seq, ${msOf('ts')} AS ts_ms, ${msOf('received_at')} AS received_ms, source, data
       FROM readings WHERE device_id = $1 AND ts >= ${AT('$2')} AND ts < ${AT('$3')}
       ORDER BY ts, seq LIMIT $4`,
      [query.device, minute, minute + 60_000, query.maxRecords + 1],
    );
    documents.push({
      minute,
      records: rows.slice(0, query.maxRecords).map((row) => {
        const reading = toReading(row);
        return { ...reading.data, seq: reading.seq, ts: reading.ts, receivedAt: reading.receivedAt };
      }),
      recordsTruncated: rows.length > query.maxRecords,
      totalReceived: valid + invalid,
      totalValid: valid,
      totalInvalid: invalid,
    });
  }
  const last = documents.at(-1);
  return { items: documents, next: buckets.length > query.limit && last !== undefined ? last.minute : null };
}
