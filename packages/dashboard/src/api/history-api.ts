/**
 * History routes of one device: aggregated series (buckets of 1m/5m/1h/1d), raw readings (keyset
 * pages, oldest first) and the streaming CSV export. The export is read as a stream and counted as it
 * arrives, so the page can show progress and cancel; the file is handed to the browser at the end.
 */
import type { ApiClient, Fetched } from './api-client.js';
import { isNumber, isObject, isString, parsePage } from './parse.js';

export type BucketWidth = '1m' | '5m' | '1h' | '1d';

export interface MetricAggregate {
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
  readonly avg: number;
}

export interface SeriesPoint {
  readonly start: number;
  readonly valid: number;
  readonly invalid: number;
  readonly metrics: Readonly<Record<string, MetricAggregate>>;
}

export interface StoredReading {
  readonly device: string;
  readonly seq: number;
  readonly ts: number;
  readonly receivedAt: number;
  readonly source: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

function parseAggregate(value: unknown): MetricAggregate | null {
  if (!isObject(value)) return null;
  const fields = ['min', 'max', 'sum', 'count', 'avg'] as const;
  return fields.every((field) => isNumber(value[field])) ? (value as unknown as MetricAggregate) : null;
}

export function parseSeriesPoint(value: unknown): SeriesPoint | null {
  if (!isObject(value) || !isNumber(value['start']) || !isObject(value['metrics'])) return null;
  const metrics: Record<string, MetricAggregate> = {};
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

export function fetchSeries(
  api: ApiClient,
  device: string,
  range: TimeRange,
  width: BucketWidth,
  signal: AbortSignal,
): Promise<Fetched<SeriesPoint[]>> {
  const params = rangeParams(range);
  params.set('width', width);
  return api.getJson(`${devicePath(device)}/series?${params.toString()}`, parseSeries, { signal });
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

export function exportFileName(device: string, range: TimeRange): string {
  const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[:.]/g, '-');
  return `${device.replace(/[^A-Za-z0-9._-]/g, '_')}_${stamp(range.from)}_${stamp(range.to)}.csv`;
}

/**
 * GET …/export?format=csv read chunk by chunk; `onProgress` gets the bytes so far. Resolves with the
 * whole file as a Blob (the browser keeps the chunks, not one growing string).
 */
export async function exportCsv(
  api: ApiClient,
  device: string,
  range: TimeRange,
  signal: AbortSignal,
  onProgress: (bytes: number) => void,
): Promise<Fetched<Blob>> {
  const params = rangeParams(range);
  params.set('format', 'csv');
  const answer = await api.raw(`${devicePath(device)}/export?${params.toString()}`, 'text/csv', signal);
  if (!answer.ok) return answer;
  const body = answer.value.body;
  if (body === null) return { ok: true, value: new Blob([], { type: 'text/csv' }) };
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      bytes += value.byteLength;
      onProgress(bytes);
    }
  } catch (error) {
    const aborted = signal.aborted;
    return {
      ok: false,
      error: aborted
        ? 'export cancelled'
        : `export interrupted: ${error instanceof Error ? error.message : 'read failed'}`,
      status: 0,
      code: aborted ? 'aborted' : 'network',
    };
  }
  return { ok: true, value: new Blob(parts as BlobPart[], { type: 'text/csv;charset=utf-8' }) };
}
