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

/**
 * Folds journal rows into one set of deltas, sorted by key like foldMinutes' output (so flushes lock
 * rollup rows in one order). Throws JournalFormatError on a row this code did not write.
 */
export function mergeJournalRows(rows: readonly string[]): MinuteDeltas {
  const buckets = new Map<string, BucketDelta>();
  const metrics = new Map<string, MetricDelta>();
  const rejects = new Map<string, RejectDelta>();
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
      const key = `${text(device)}\u0000${count(minute)}`;
      const existing = buckets.get(key);
      if (existing === undefined) {
        buckets.set(key, {
          device: text(device),
          minuteMs: count(minute),
          valid: count(valid),
          invalid: count(invalid),
        });
      } else {
        existing.valid += count(valid);
        existing.invalid += count(invalid);
      }
    }
    for (const [device, minute, metric, min, max, sum, n] of entries(m, 'm', 7)) {
      const key = `${text(device)}\u0000${count(minute)}\u0000${text(metric)}`;
      const existing = metrics.get(key);
      if (existing === undefined) {
        metrics.set(key, {
          device: text(device),
          minuteMs: count(minute),
          metric: text(metric),
          min: float(min),
          max: float(max),
          sum: float(sum),
          count: count(n),
        });
      } else {
        existing.min = Math.min(existing.min, float(min));
        existing.max = Math.max(existing.max, float(max));
        existing.sum += float(sum);
        existing.count += count(n);
      }
    }
    for (const [device, minute, reason, n] of entries(r, 'r', 4)) {
      const key = `${text(device)}\u0000${count(minute)}\u0000${text(reason)}`;
      const existing = rejects.get(key);
      if (existing === undefined) {
        rejects.set(key, { device: text(device), minuteMs: count(minute), reason: text(reason), count: count(n) });
      } else {
        existing.count += count(n);
      }
    }
  }
  return {
    buckets: [...buckets.values()].sort((a, b) => compare([a.device, a.minuteMs], [b.device, b.minuteMs])),
    metrics: [...metrics.values()].sort((a, b) =>
      compare([a.device, a.minuteMs, a.metric], [b.device, b.minuteMs, b.metric]),
    ),
    rejects: [...rejects.values()].sort((a, b) =>
      compare([a.device, a.minuteMs, a.reason], [b.device, b.minuteMs, b.reason]),
    ),
  };
}

function compare(a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): number {
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}
