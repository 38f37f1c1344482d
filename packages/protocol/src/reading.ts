/**
 * The reading schema check and the numeric-metric extraction. Runs once per reading at ingest rate,
 * so it avoids regexes where a plain loop does and never copies the reading.
 */
import { DEVICE_ID_PATTERN } from './constants.js';
import type { Reading } from './reading.types.js';
import { reject, type Rejection } from './reasons.js';
import { findUnstorableJson } from './storable-text.js';

export type ReadingCheck = { ok: true; reading: Reading } | Rejection;

const MAX_METRICS_PER_READING = 64;

/**
 * Longest top-level key of `data` (a metric name), in UTF-16 code units: at most 768 bytes of UTF-8.
 * Metric names are part of the per-minute rollup key, and PostgreSQL refuses an index entry over 2704
 * bytes; one reading with a 3000-character metric name once made every later rollup fold fail.
 */
export const MAX_METRIC_NAME_LENGTH = 256;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function invalid(detail: string): Rejection {
  return reject('schema_invalid', detail);
}

/** Exactly the fields device, seq, ts, data; unknown fields are refused so nothing is silently dropped. */
export function validateReading(value: unknown): ReadingCheck {
  if (!isPlainObject(value)) return invalid('reading must be a JSON object');
  const { device, seq, ts, data } = value;
  if (typeof device !== 'string') return invalid('device must be a string');
  if (!DEVICE_ID_PATTERN.test(device)) return invalid('device must be 1..128 characters of [A-Za-z0-9._:-]');
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    return invalid('seq must be a safe integer >= 0');
  }
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    return invalid('ts must be a safe integer of milliseconds >= 0');
  }
  if (!isPlainObject(data)) return invalid('data must be a JSON object (not null, not an array)');
  for (const name in data) {
    if (name.length > MAX_METRIC_NAME_LENGTH) {
      return invalid(`data has a key (metric name) longer than ${MAX_METRIC_NAME_LENGTH} characters`);
    }
  }
  // jsonb refuses NUL and unpaired surrogates: one such reading would fail its whole batch's commit.
  const unstorable = findUnstorableJson(data, 'data', MAX_DATA_DEPTH);
  if (unstorable !== undefined) return invalid(unstorable);
  for (const name in value) {
    if (name !== 'device' && name !== 'seq' && name !== 'ts' && name !== 'data') {
      return invalid(`unexpected field ${JSON.stringify(name.slice(0, 64))}`);
    }
  }
  return { ok: true, reading: value as unknown as Reading };
}

/** data nesting bound: deep enough for any real reading, shallow enough for every recursive consumer. */
const MAX_DATA_DEPTH = 16;

/** Top-level finite number fields of data, in property order, at most 64. */
export function numericMetrics(data: Readonly<Record<string, unknown>>): Array<[string, number]> {
  const metrics: Array<[string, number]> = [];
  forEachNumericMetric(data, (name, value) => metrics.push([name, value]));
  return metrics;
}

/**
 * The same fields as numericMetrics, visited without allocating: the commit path folds every reading's
 * metrics, and the arrays numericMetrics builds were garbage collected at ~100K readings/s.
 * `data` must be a plain object (validateReading guarantees it): for…in then visits exactly its own
 * enumerable keys, in the order Object.keys gives.
 */
export function forEachNumericMetric(
  data: Readonly<Record<string, unknown>>,
  visit: (name: string, value: number) => void,
): void {
  let count = 0;
  for (const name in data) {
    const value = data[name];
    if (typeof value === 'number' && Number.isFinite(value)) {
      visit(name, value);
      count += 1;
      if (count === MAX_METRICS_PER_READING) return;
    }
  }
}
