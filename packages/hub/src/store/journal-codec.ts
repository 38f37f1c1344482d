/**
 * The text of one rollup-journal row (rollup-statements.ts) and the merge of many rows into one set of
 * deltas. Compact JSON arrays instead of objects: a row is written per commit and read once.
 *
 *   {"b": [[device, minuteMs, valid, invalid], ...],
 *    "m": [[device, minuteMs, metric, min, max, sum, count], ...],
 *    "r": [[device, minuteMs, reason, count], ...]}
 *
 * A metric sum can overflow to ±Infinity (readings are finite, their sum need not be), which JSON
 * cannot hold, so non-finite numbers travel as the strings "Infinity", "-Infinity" and "NaN".
 */
import type { BucketDelta, MetricDelta, MinuteDeltas, RejectDelta } from './minute-aggregates.js';

type Wire = number | string;

function toWire(value: number): Wire {
  return Number.isFinite(value) ? value : String(value);
}

export function encodeJournalRow(deltas: MinuteDeltas): string {
  return JSON.stringify({
    b: deltas.buckets.map((b) => [b.device, b.minuteMs, b.valid, b.invalid]),
    m: deltas.metrics.map((m) => [
      m.device,
      m.minuteMs,
      m.metric,
      toWire(m.min),
      toWire(m.max),
      toWire(m.sum),
      m.count,
    ]),
    r: deltas.rejects.map((r) => [r.device, r.minuteMs, r.reason, r.count]),
  });
}

/**
 * Entries (bucket, metric and reject deltas together) one journal row holds at most. A commit of 10K
 * readings that each fall in their own minute with 64 metrics folds to ~650K entries; as one row that
 * was 25 MB of JSON which a flush had to take, parse and upsert in one transaction (tens of seconds,
 * gigabytes of memory). Rows of at most this many entries keep each flush step small.
 */
export const MAX_JOURNAL_ROW_ENTRIES = 4096;

/**
 * The journal rows of one commit's deltas: one row normally, several when the deltas hold more than
 * `maxEntries` entries. Rows are additive, so splitting changes nothing a fold computes.
 */
export function encodeJournalRows(deltas: MinuteDeltas, maxEntries = MAX_JOURNAL_ROW_ENTRIES): string[] {
  const total = deltas.buckets.length + deltas.metrics.length + deltas.rejects.length;
  if (total <= maxEntries) return [encodeJournalRow(deltas)];
  const rows: string[] = [];
  let part: { buckets: BucketDelta[]; metrics: MetricDelta[]; rejects: RejectDelta[] } = {
    buckets: [],
    metrics: [],
    rejects: [],
  };
  let size = 0;
  const add = (push: () => void): void => {
    if (size === maxEntries) {
      rows.push(encodeJournalRow(part));
      part = { buckets: [], metrics: [], rejects: [] };
      size = 0;
    }
    push();
    size += 1;
  };
  for (const bucket of deltas.buckets) add(() => part.buckets.push(bucket));
  for (const metric of deltas.metrics) add(() => part.metrics.push(metric));
  for (const reject of deltas.rejects) add(() => part.rejects.push(reject));
  if (size > 0) rows.push(encodeJournalRow(part));
  return rows;
}

export class JournalFormatError extends Error {
  constructor(what: string) {
    super(`store: rollup journal row is malformed (${what})`);
    this.name = 'JournalFormatError';
  }
}

type BucketEntry = [device: string, minuteMs: number, valid: number, invalid: number];
type MetricEntry = [device: string, minuteMs: number, metric: string, min: Wire, max: Wire, sum: Wire, count: number];
type RejectEntry = [device: string, minuteMs: number, reason: string, count: number];

/** A journal row checked entry by entry; merging it cannot fail half-way. */
export interface DecodedJournalRow {
  readonly b: readonly BucketEntry[];
  readonly m: readonly MetricEntry[];
  readonly r: readonly RejectEntry[];
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);
const isWire = (value: unknown): boolean =>
  typeof value === 'number' || value === 'Infinity' || value === '-Infinity' || value === 'NaN';

function checked<T>(value: unknown, key: string, width: number, valid: (entry: unknown[]) => boolean): T[] {
  if (!Array.isArray(value)) throw new JournalFormatError(`${key} is not an array`);
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== width) throw new JournalFormatError(`${key} entry width`);
    if (!valid(entry)) throw new JournalFormatError(`${key} entry types`);
  }
  return value as T[];
}

/** Parses and checks one journal row; throws JournalFormatError on a row this code did not write. */
export function decodeJournalRow(row: string): DecodedJournalRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row);
  } catch {
    throw new JournalFormatError('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new JournalFormatError('not an object');
  const { b, m, r } = parsed as Record<string, unknown>;
  return {
    b: checked<BucketEntry>(b, 'b', 4, (e) => isText(e[0]) && isCount(e[1]) && isCount(e[2]) && isCount(e[3])),
    m: checked<MetricEntry>(
      m,
      'm',
      7,
      (e) =>
        isText(e[0]) && isCount(e[1]) && isText(e[2]) && isWire(e[3]) && isWire(e[4]) && isWire(e[5]) && isCount(e[6]),
    ),
    r: checked<RejectEntry>(r, 'r', 4, (e) => isText(e[0]) && isCount(e[1]) && isText(e[2]) && isCount(e[3])),
  };
}

function float(value: Wire): number {
  if (typeof value === 'number') return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** One (device, minute) of the merge: its bucket, and its metrics and reasons by name. */
interface MinuteSlot {
  readonly bucket: BucketDelta;
  readonly metrics: Map<string, MetricDelta>;
  readonly rejects: Map<string, RejectDelta>;
}

/** Folds journal rows into one set of deltas; throws JournalFormatError on a row this code did not write. */
export function mergeJournalRows(rows: readonly string[]): MinuteDeltas {
  return mergeDecodedRows(rows.map(decodeJournalRow));
}

/**
 * Folds checked journal rows into one set of deltas, sorted by key like foldMinutes' output (so flushes
 * lock rollup rows in one order). Nested maps and comparators that allocate nothing: a flush at 20K
 * readings/s in small commits merges ~65 rows of ~400 entries each per second.
 */
export function mergeDecodedRows(rows: readonly DecodedJournalRow[]): MinuteDeltas {
  const byDevice = new Map<string, Map<number, MinuteSlot>>();
  const buckets: BucketDelta[] = [];
  const metrics: MetricDelta[] = [];
  const rejects: RejectDelta[] = [];
  const slotFor = (device: string, minuteMs: number): MinuteSlot => {
    let minutes = byDevice.get(device);
    if (minutes === undefined) {
      minutes = new Map();
      byDevice.set(device, minutes);
    }
    let slot = minutes.get(minuteMs);
    if (slot === undefined) {
      const bucket: BucketDelta = { device, minuteMs, valid: 0, invalid: 0 };
      buckets.push(bucket);
      slot = { bucket, metrics: new Map(), rejects: new Map() };
      minutes.set(minuteMs, slot);
    }
    return slot;
  };

  for (const row of rows) {
    for (const [device, minute, valid, invalid] of row.b) {
      const { bucket } = slotFor(device, minute);
      bucket.valid += valid;
      bucket.invalid += invalid;
    }
    for (const [device, minute, metric, min, max, sum, n] of row.m) {
      const slot = slotFor(device, minute);
      const existing = slot.metrics.get(metric);
      if (existing === undefined) {
        const delta: MetricDelta = {
          device: slot.bucket.device,
          minuteMs: slot.bucket.minuteMs,
          metric,
          min: float(min),
          max: float(max),
          sum: float(sum),
          count: n,
        };
        slot.metrics.set(metric, delta);
        metrics.push(delta);
      } else {
        existing.min = Math.min(existing.min, float(min));
        existing.max = Math.max(existing.max, float(max));
        existing.sum += float(sum);
        existing.count += n;
      }
    }
    for (const [device, minute, reason, n] of row.r) {
      const slot = slotFor(device, minute);
      const existing = slot.rejects.get(reason);
      if (existing === undefined) {
        const delta: RejectDelta = { device: slot.bucket.device, minuteMs: slot.bucket.minuteMs, reason, count: n };
        slot.rejects.set(reason, delta);
        rejects.push(delta);
      } else {
        existing.count += n;
      }
    }
  }
  // Buckets of a journal row exist for every metric and reason entry (foldMinutes makes them), but a
  // bucket made here only for a metric has valid = invalid = 0: harmless to upsert (adds nothing).
  buckets.sort(byDeviceMinute);
  metrics.sort((x, y) => byDeviceMinute(x, y) || byText(x.metric, y.metric));
  rejects.sort((x, y) => byDeviceMinute(x, y) || byText(x.reason, y.reason));
  return { buckets, metrics, rejects };
}

function byText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function byDeviceMinute(a: { device: string; minuteMs: number }, b: { device: string; minuteMs: number }): number {
  return byText(a.device, b.device) || a.minuteMs - b.minuteMs;
}
