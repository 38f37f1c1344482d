// Tests for the history chart helpers: bucket width fitting, metric discovery, alignment with gaps.
import { describe, expect, it } from 'vitest';
import type { SeriesPoint } from '../src/api/history-api.js';
import {
  alignSeries,
  chooseBucketWidth,
  defaultMetric,
  MAX_BUCKETS,
  mergeMetricNames,
  metricNames,
} from '../src/history-series.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const point = (start: number, metrics: Record<string, number>, valid = 1): SeriesPoint => ({
  start,
  valid,
  invalid: 0,
  metrics: Object.fromEntries(
    Object.entries(metrics).map(([name, value]) => [
      name,
      { min: value, max: value, sum: value, count: 1, avg: value },
    ]),
  ),
});

describe('chooseBucketWidth', () => {
  it('picks the finest width whose buckets fit the chart at 3 px each', () => {
    expect(chooseBucketWidth(HOUR, 1000)).toBe('1m'); // 60 buckets
    expect(chooseBucketWidth(24 * HOUR, 1000)).toBe('5m'); // 1440 1m buckets do not fit 333; 288 5m do
    expect(chooseBucketWidth(24 * HOUR, 5000)).toBe('1m'); // 1440 <= 1666
    expect(chooseBucketWidth(7 * DAY, 1000)).toBe('1h'); // 168
    expect(chooseBucketWidth(90 * DAY, 1000)).toBe('1d');
  });
  it('falls back to 1d when nothing fits and never exceeds the API cap', () => {
    expect(chooseBucketWidth(10_000 * DAY, 300)).toBe('1d');
    expect(chooseBucketWidth(30 * DAY, 1_000_000)).not.toBe('1m'); // 43,200 minute buckets > MAX_BUCKETS
    expect(MAX_BUCKETS).toBe(10_000);
  });
  it('handles zero or negative input without throwing', () => {
    expect(chooseBucketWidth(0, 0)).toBe('1m');
  });
});

describe('metricNames', () => {
  it('lists metrics across devices, most common first, ties in the order they were sent', () => {
    const names = metricNames([
      [point(0, { temp: 1, hum: 2 }), point(60_000, { temp: 1 })],
      [point(0, { volt: 3, temp: 2 })],
    ]);
    expect(names).toEqual(['temp', 'hum', 'volt']);
    expect(metricNames([[point(0, { temp: 1, device_no: 0 })]])).toEqual(['temp', 'device_no']);
  });
});

describe('alignSeries', () => {
  it('puts every device on one sorted time axis in seconds, null where a device has no bucket', () => {
    const byDevice = new Map<string, SeriesPoint[]>([
      ['a', [point(60_000, { temp: 2 }), point(0, { temp: 1 })]],
      ['b', [point(120_000, { temp: 5 }), point(0, { hum: 9 })]],
    ]);
    const aligned = alignSeries(byDevice, 'temp', 'avg');
    expect(aligned.devices).toEqual(['a', 'b']);
    expect(aligned.times).toEqual([0, 60, 120]);
    expect(aligned.columns).toEqual([
      [1, 2, null],
      [null, null, 5],
    ]);
  });
  it('charts valid counts without a metric', () => {
    const aligned = alignSeries(new Map([['a', [point(0, {}, 7)]]]), null, 'valid');
    expect(aligned.columns).toEqual([[7]]);
  });
});

describe('defaultMetric', () => {
  it('prefers a metric that varies over a constant one', () => {
    const series = [[point(0, { device_no: 0, temp: 20 }), point(60_000, { device_no: 0, temp: 21 })]];
    expect(defaultMetric(series)).toBe('temp');
    expect(defaultMetric([[point(0, { a: 1 })]])).toBe('a');
    expect(defaultMetric([])).toBeNull();
  });
});

describe('mergeMetricNames', () => {
  it('lists names more devices have first, then in the order given, each once', () => {
    expect(
      mergeMetricNames([
        ['a', 'temp'],
        ['temp', 'z'],
        ['b', 'temp', 'z'],
      ]),
    ).toEqual(['temp', 'z', 'a', 'b']);
    expect(mergeMetricNames([])).toEqual([]);
  });
});
