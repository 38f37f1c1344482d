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

class JournalFormatError extends Error {
  constructor(what: string) {
    super(`store: rollup journal row is malformed (${what})`);
    this.name = 'JournalFormatError';
  }
}

function entries(value: unknown, key: string, width: number): unknown[][] {
  if (!Array.isArray(value)) throw new JournalFormatError(`${key} is not an array`);
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== width) throw new JournalFormatError(`${key} entry width`);
  }
  return value as unknown[][];
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new JournalFormatError('expected text');
  return value;
}

function count(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new JournalFormatError('expected a count');
  return value;
}

function float(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (value === 'NaN') return Number.NaN;
  throw new JournalFormatError('expected a number');
}

/** One (device, minute) of the merge: its bucket, and its metrics and reasons by name. */
interface MinuteSlot {
  readonly bucket: BucketDelta;
  readonly metrics: Map<string, MetricDelta>;
  readonly rejects: Map<string, RejectDelta>;
}

/**
 * Folds journal rows into one set of deltas, sorted by key like foldMinutes' output (so flushes lock
 * rollup rows in one order). Nested maps and comparators that allocate nothing: a flush at 20K
 * readings/s in small commits merges ~65 rows of ~400 entries each per second. Throws
 * JournalFormatError on a row this code did not write.
 */
export function mergeJournalRows(rows: readonly string[]): MinuteDeltas {
  const byDevice = new Map<string, Map<number, MinuteSlot>>();
  const buckets: BucketDelta[] = [];
  const metrics: MetricDelta[] = [];
  const rejects: RejectDelta[] = [];
  const slotFor = (device: unknown, minute: unknown): MinuteSlot => {
    const deviceId = text(device);
    const minuteMs = count(minute);
    let minutes = byDevice.get(deviceId);
    if (minutes === undefined) {
      minutes = new Map();
      byDevice.set(deviceId, minutes);
    }
    let slot = minutes.get(minuteMs);
    if (slot === undefined) {
      const bucket: BucketDelta = { device: deviceId, minuteMs, valid: 0, invalid: 0 };
      buckets.push(bucket);
      slot = { bucket, metrics: new Map(), rejects: new Map() };
      minutes.set(minuteMs, slot);
    }
    return slot;
  };

  for (const row of rows) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch {
      throw new JournalFormatError('not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null) throw new JournalFormatError('not an object');
    const { b, m, r } = parsed as Record<string, unknown>;
    for (const [device, minute, valid, invalid] of entries(b, 'b', 4)) {
      const { bucket } = slotFor(device, minute);
      bucket.valid += count(valid);
      bucket.invalid += count(invalid);
    }
    for (const [device, minute, metric, min, max, sum, n] of entries(m, 'm', 7)) {
      const slot = slotFor(device, minute);
      const name = text(metric);
      const existing = slot.metrics.get(name);
      if (existing === undefined) {
        const delta: MetricDelta = {
          device: slot.bucket.device,
          minuteMs: slot.bucket.minuteMs,
          metric: name,
          min: float(min),
          max: float(max),
          sum: float(sum),
          count: count(n),
        };
        slot.metrics.set(name, delta);
        metrics.push(delta);
      } else {
        existing.min = Math.min(existing.min, float(min));
        existing.max = Math.max(existing.max, float(max));
        existing.sum += float(sum);
        existing.count += count(n);
      }
    }
    for (const [device, minute, reason, n] of entries(r, 'r', 4)) {
      const slot = slotFor(device, minute);
      const name = text(reason);
      const existing = slot.rejects.get(name);
      if (existing === undefined) {
        const delta: RejectDelta = {
          device: slot.bucket.device,
          minuteMs: slot.bucket.minuteMs,
          reason: name,
          count: count(n),
        };
        slot.rejects.set(name, delta);
        rejects.push(delta);
      } else {
        existing.count += count(n);
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
