/**
 * Pure helpers of the history chart: which bucket width fits a time range into the chart's width,
 * the metrics a set of series offers, and the alignment of several devices' buckets onto one time
 * axis (uPlot wants one x column shared by every series; a device without a bucket gets a gap).
 */
import type { BucketWidth, SeriesPoint } from './api/history-api.js';

export const BUCKET_MS: Readonly<Record<BucketWidth, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

export const BUCKET_WIDTHS: readonly BucketWidth[] = ['1m', '5m', '1h', '1d'];

/** The API answers at most this many buckets. */
export const MAX_BUCKETS = 10_000;

/** At least this many pixels per bucket, so neighbouring buckets are visibly distinct. */
export const MIN_PX_PER_BUCKET = 3;

/** The finest width whose bucket count fits the chart (and the API's cap); '1d' when none does. */
export function chooseBucketWidth(
  rangeMs: number,
  chartWidthPx: number,
  minPxPerBucket = MIN_PX_PER_BUCKET,
): BucketWidth {
  const fits = Math.max(1, Math.floor(Math.max(chartWidthPx, 1) / minPxPerBucket));
  for (const width of BUCKET_WIDTHS) {
    const buckets = Math.ceil(Math.max(rangeMs, 1) / BUCKET_MS[width]);
    if (buckets <= fits && buckets <= MAX_BUCKETS) return width;
  }
  return '1d';
}

/** Metric names across all series, most common first (then in the order devices send them). */
export function metricNames(series: Iterable<readonly SeriesPoint[]>): string[] {
  const counts = new Map<string, number>();
  for (const points of series) {
    for (const point of points) {
      for (const name of Object.keys(point.metrics)) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  // Array.prototype.sort is stable: equal counts keep first-seen order.
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name);
}

/** The metric names of several devices in one list: those more devices have first, then by name. */
export function mergeMetricNames(lists: Iterable<readonly string[]>): string[] {
  const counts = new Map<string, number>();
  for (const list of lists) for (const name of new Set(list)) counts.set(name, (counts.get(name) ?? 0) + 1);
  // Array.prototype.sort is stable: equal counts keep first-seen order (each list comes sorted by name).
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name);
}

export type Statistic = 'avg' | 'min' | 'max' | 'count' | 'valid' | 'invalid';

export interface AlignedSeries {
  /** Bucket starts in seconds since epoch (uPlot's time unit), ascending. */
  readonly times: number[];
  /** One column per device, aligned with `times`; null where the device has no bucket. */
  readonly columns: Array<Array<number | null>>;
  readonly devices: string[];
}

function valueOf(point: SeriesPoint, metric: string | null, statistic: Statistic): number | null {
  if (statistic === 'valid') return point.valid;
  if (statistic === 'invalid') return point.invalid;
  if (metric === null) return null;
  const aggregate = point.metrics[metric];
  return aggregate === undefined ? null : aggregate[statistic];
}

export function alignSeries(
  byDevice: ReadonlyMap<string, readonly SeriesPoint[]>,
  metric: string | null,
  statistic: Statistic,
): AlignedSeries {
  const starts = new Set<number>();
  for (const points of byDevice.values()) for (const point of points) starts.add(point.start);
  const sorted = [...starts].sort((a, b) => a - b);
  const index = new Map(sorted.map((start, position) => [start, position]));
  const devices = [...byDevice.keys()];
  const columns = devices.map((device) => {
    const column = new Array<number | null>(sorted.length).fill(null);
    for (const point of byDevice.get(device) ?? []) {
      const at = index.get(point.start);
      if (at !== undefined) column[at] = valueOf(point, metric, statistic);
    }
    return column;
  });
  return { times: sorted.map((start) => start / 1000), columns, devices };
}

/**
 * The metric shown first: the most common one whose values vary in the range (a constant field such
 * as a device number makes a flat, uninformative line), else simply the most common.
 */
export function defaultMetric(series: Iterable<readonly SeriesPoint[]>): string | null {
  const all = [...series];
  const names = metricNames(all);
  const varies = (name: string): boolean => {
    let low = Infinity;
    let high = -Infinity;
    for (const points of all) {
      for (const point of points) {
        const aggregate = point.metrics[name];
        if (aggregate === undefined) continue;
        low = Math.min(low, aggregate.min);
        high = Math.max(high, aggregate.max);
      }
    }
    return high > low;
  };
  return names.find(varies) ?? names[0] ?? null;
}
