/**
 * History routes of one device: aggregated series (buckets of 1m/5m/1h/1d), raw readings (keyset
 * pages, oldest first) and the CSV export's single-use download link (the browser then downloads the
 * file itself, streaming it to disk with its own progress and cancel).
 */
import type {
  MetricAggregate as WireMetricAggregate,
  Reading,
  SeriesPoint as WireSeriesPoint,
} from '@sealstream/contract';
import type { ApiClient, Fetched } from './api-client.js';
import { isNumber, isObject, isString, parsePage } from './parse.js';

export type BucketWidth = '1m' | '5m' | '1h' | '1d';

/** Per-metric aggregate of a bucket; `sum` (and so `avg`) null when not a finite number. */
export type MetricAggregate = Readonly<WireMetricAggregate>;

/** One bucket of GET /api/v1/devices/:device/series (the REST contract's shape). */
export type SeriesPoint = Readonly<
  Omit<WireSeriesPoint, 'metrics'> & { metrics: Readonly<Record<string, MetricAggregate>> }
>;

/** One reading of GET /api/v1/devices/:device/readings (the contract's `Reading`). */
export type StoredReading = Readonly<Omit<Reading, 'data'> & { data: Readonly<Record<string, unknown>> }>;

export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

function parseAggregate(value: unknown): MetricAggregate | null {
  if (!isObject(value)) return null;
  const numbers = ['min', 'max', 'count'] as const;
  const nullable = ['sum', 'avg'] as const;
  const ok =
    numbers.every((field) => isNumber(value[field])) &&
    nullable.every((field) => value[field] === null || isNumber(value[field]));
  return ok ? (value as unknown as MetricAggregate) : null;
}

export function parseSeriesPoint(value: unknown): SeriesPoint | null {
  if (!isObject(value) || !isNumber(value['start']) || !isObject(value['metrics'])) return null;
  const metrics = Object.create(null) as Record<string, MetricAggregate>;
  for (const [name, raw] of Object.entries(value['metrics'])) {
    const aggregate = parseAggregate(raw);
    if (aggregate !== null) metrics[name] = aggregate;
  }
  return {
    start: value['start'],
    valid: isNumber(value['valid']) ? value['valid'] : 0,
    invalid: isNumber(value['invalid']) ? value['invalid'] : 0,
    metrics,
  };
}

export function parseSeries(body: unknown): SeriesPoint[] | null {
  return parsePage(body, parseSeriesPoint)?.items ?? null;
}

export function parseStoredReading(value: unknown): StoredReading | null {
  if (!isObject(value)) return null;
  const ok =
    isString(value['device']) &&
    isNumber(value['seq']) &&
    isNumber(value['ts']) &&
    isNumber(value['receivedAt']) &&
    isObject(value['data']);
  return ok
    ? {
        device: value['device'] as string,
        seq: value['seq'] as number,
        ts: value['ts'] as number,
        receivedAt: value['receivedAt'] as number,
        source: isString(value['source']) ? value['source'] : '',
        data: value['data'] as Record<string, unknown>,
      }
    : null;
}

const devicePath = (id: string): string => `/api/v1/devices/${encodeURIComponent(id)}`;

const rangeParams = (range: TimeRange): URLSearchParams =>
  new URLSearchParams({ from: String(Math.floor(range.from)), to: String(Math.ceil(range.to)) });

/** Metrics one series request names at most (the API refuses more than 64). */
export const MAX_SERIES_METRICS = 64;

/**
 * The series of one device for the named metrics only (the chart draws one; the API bounds how many an
 * answer carries, and a device may have hundreds). A single name travels as `metric`, so a name with a
 * comma works too.
 */
export function fetchSeries(
  api: ApiClient,
  device: string,
  range: TimeRange,
  width: BucketWidth,
  metrics: readonly string[],
  signal: AbortSignal,
): Promise<Fetched<SeriesPoint[]>> {
  const params = rangeParams(range);
  params.set('width', width);
  const names = metrics.slice(0, MAX_SERIES_METRICS);
  if (names.length === 1) params.set('metric', names[0] ?? '');
  else if (names.length > 1) params.set('metrics', names.join(','));
  // No names (a device without metrics): the counts, with at most one metric, never every metric.
  else params.set('metricLimit', '1');
  return api.getJson(`${devicePath(device)}/series?${params.toString()}`, parseSeries, { signal });
}

/** Metric names a device has sent, first page by name (enough for a picker; the API pages the rest). */
export function fetchMetricNames(
  api: ApiClient,
  device: string,
  signal: AbortSignal,
  limit = 200,
): Promise<Fetched<string[]>> {
  return api.getJson(
    `${devicePath(device)}/metrics?limit=${limit}`,
    (body) => parsePage(body, (item) => (isString(item) ? item : null))?.items ?? null,
    { signal },
  );
}

export interface ReadingPage {
  readonly items: StoredReading[];
  readonly nextCursor: string | null;
}

export function fetchReadings(
  api: ApiClient,
  device: string,
  range: TimeRange,
  limit: number,
  cursor: string | null,
  signal: AbortSignal,
): Promise<Fetched<ReadingPage>> {
  const params = rangeParams(range);
  params.set('limit', String(limit));
  if (cursor !== null) params.set('cursor', cursor);
  return api.getJson(
    `${devicePath(device)}/readings?${params.toString()}`,
    (body) => parsePage(body, parseStoredReading),
    {
      signal,
    },
  );
}

export interface ExportLink {
  /** Same-origin path of a single-use download, e.g. /api/v1/exports/<ticket>. */
  readonly url: string;
  /** When the link stops working, ms since epoch (about a minute after it was issued). */
  readonly expiresAt: number;
}

export function parseExportLink(body: unknown): ExportLink | null {
  if (!isObject(body) || !isString(body['url']) || !isNumber(body['expiresAt'])) return null;
  // Only a path on this hub is ever navigated to: never an address an answer could smuggle in.
  return /^\/api\/v1\/exports\/[A-Za-z0-9_-]+$/.test(body['url'])
    ? { url: body['url'], expiresAt: body['expiresAt'] }
    : null;
}

/**
 * POST /api/v1/exports for a CSV of one device's range: a single-use link the browser downloads by
 * plain navigation, streaming to disk (the page never holds the file).
 */
export function requestExportLink(
  api: ApiClient,
  device: string,
  range: TimeRange,
  signal?: AbortSignal,
): Promise<Fetched<ExportLink>> {
  return api.postJson('/api/v1/exports', parseExportLink, {
    body: { devices: [device], from: Math.floor(range.from), to: Math.ceil(range.to), format: 'csv' },
    ...(signal === undefined ? {} : { signal }),
  });
}
