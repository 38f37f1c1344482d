/**
 * Read routes over stored history (viewer or higher): devices with last-seen and rates, one device's
 * readings (keyset-paged on (ts, seq)), its series folded from the minute buckets (1m, 5m, 1h, 1d) and
 * the seed's per-minute document view.
 */
import { Type } from '@sinclair/typebox';
import { DeviceSummary, MinuteDocument, Reading, SeriesPoint } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from './api-errors.js';
import type { QueryStore, SeriesWidth } from './api-ports.js';
import { BEARER_SECURITY, stringEnum, withErrorResponses } from './api-schemas.js';
import { CursorParam, decodeCursor, encodeCursor, isNumberPair, parseRange, TimeParam } from './query-params.js';

const HOUR_MS = 3_600_000;
const WIDTH_MS: Readonly<Record<SeriesWidth, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': HOUR_MS,
  '1d': 86_400_000,
};
/** A series answer is at most this many buckets; ask for a wider bucket or a shorter range. */
export const MAX_SERIES_POINTS = 10_000;
/** Metrics one series answer carries at most (named in `metrics`, or one page of the device's names). */
export const MAX_SERIES_METRICS = 64;
/** Metrics per page when the request names none. */
export const DEFAULT_SERIES_METRICS = 16;
/**
 * Buckets × metrics one answer carries at most: about 100 bytes of JSON each, so an answer stays under
 * ~5 MB. A device with 1.3 million metric rows once made one unfiltered answer 85 MB and 1 GB of heap.
 */
export const MAX_SERIES_CELLS = 50_000;

const DeviceParams = Type.Object({ device: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }) });
const NextCursor = Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' });

const isString = (value: unknown): value is string => typeof value === 'string';

/** The names of `metric` and `metrics` (comma-separated) together; undefined when neither is given. */
function namedMetrics(metric: string | undefined, metrics: string | undefined): string[] | undefined {
  if (metric === undefined && metrics === undefined) return undefined;
  const names = new Set<string>();
  if (metric !== undefined) names.add(metric);
  for (const name of metrics?.split(',') ?? []) {
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 128) {
      throw new ApiError('validation_failed', 'the request does not match the schema', [
        { in: 'querystring', path: '/metrics', message: 'each metric name must be 1 to 128 characters' },
      ]);
    }
    names.add(trimmed);
  }
  return [...names];
}
const isNumber = (value: unknown): value is number => Number.isSafeInteger(value);

export function registerQueryRoutes(
  app: FastifyInstance,
  store: QueryStore,
  authorize: onRequestAsyncHookHandler,
  now: () => number = Date.now,
): void {
  for (const schema of [DeviceSummary, Reading, SeriesPoint, MinuteDocument]) app.addSchema(schema);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/devices',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Devices seen in the minute buckets or registered, with last-seen, rates and registry status, by id',
        security: BEARER_SECURITY,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), cursor: Type.Optional(CursorParam) },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({ items: Type.Array(Type.Ref('DeviceSummary')), nextCursor: NextCursor }),
        }),
      },
    },
    async (request) => {
      const after = decodeCursor(request.query.cursor, isString);
      const page = await store.devicePage({ limit: request.query.limit, afterDevice: after, nowMs: now() });
      return { items: page.items, nextCursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );

  typed.get(
    '/devices/:device/readings',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Raw readings of one device in [from, to), oldest first, cursor-paged (default: the last hour)',
        security: BEARER_SECURITY,
        params: DeviceParams,
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
            cursor: Type.Optional(CursorParam),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({ items: Type.Array(Type.Ref('Reading')), nextCursor: NextCursor }),
        }),
      },
    },
    async (request) => {
      const { fromMs, toMs } = parseRange(request.query, now(), HOUR_MS);
      const after = decodeCursor(request.query.cursor, isNumberPair);
      const page = await store.readingPage({
        device: request.params.device,
        fromMs,
        toMs,
        limit: request.query.limit,
        after: after === null ? null : { ts: after[0], seq: after[1] },
      });
      return {
        items: page.items,
        nextCursor: page.next === null ? null : encodeCursor([page.next.ts, page.next.seq]),
      };
    },
  );

  typed.get(
    '/devices/:device/series',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Counts and per-metric min/max/sum/count/avg of one device in buckets of 1m, 5m, 1h or 1d',
        security: BEARER_SECURITY,
        params: DeviceParams,
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            width: stringEnum(['1m', '5m', '1h', '1d'] as const, { description: 'bucket width' }),
            metric: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'only this metric' })),
            metrics: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 8192,
                description: `only these metrics, comma-separated (at most ${MAX_SERIES_METRICS})`,
              }),
            ),
            metricLimit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: MAX_SERIES_METRICS,
                description: `without metric/metrics: metrics per page of the device's names (default ${DEFAULT_SERIES_METRICS}; fewer when buckets × metrics would pass ${MAX_SERIES_CELLS})`,
              }),
            ),
            metricCursor: Type.Optional(
              Type.String({ minLength: 1, maxLength: 1024, description: 'nextMetricCursor of the previous page' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({
            width: Type.String(),
            metrics: Type.Array(Type.String(), { description: 'the metrics this answer carries, by name' }),
            nextMetricCursor: Type.Union([Type.String(), Type.Null()], {
              description: 'more metric names follow: pass it as metricCursor; null when none (or metrics were named)',
            }),
            items: Type.Array(Type.Ref('SeriesPoint')),
          }),
        }),
      },
    },
    async (request) => {
      const { query } = request;
      const width = query.width as SeriesWidth;
      const { fromMs, toMs } = parseRange(query, now(), 24 * HOUR_MS);
      const buckets = Math.max(1, Math.ceil((toMs - fromMs) / WIDTH_MS[width]));
      if (buckets > MAX_SERIES_POINTS) {
        throw new ApiError('validation_failed', 'the request does not match the schema', [
          {
            in: 'querystring',
            path: '/width',
            message: `the range holds more than ${MAX_SERIES_POINTS} buckets of this width`,
          },
        ]);
      }
      const named = namedMetrics(query.metric, query.metrics);
      if (named !== undefined && (named.length > MAX_SERIES_METRICS || named.length * buckets > MAX_SERIES_CELLS)) {
        throw new ApiError('series_too_large', 'the series asked for exceeds the bounds of one answer', {
          metrics: named.length,
          buckets,
          maxMetrics: MAX_SERIES_METRICS,
          maxCells: MAX_SERIES_CELLS,
        });
      }
      // Without names: one page of the device's names, as many as fit the cell bound (at least one).
      const pageSize = Math.max(
        1,
        Math.min(query.metricLimit ?? DEFAULT_SERIES_METRICS, Math.floor(MAX_SERIES_CELLS / buckets)),
      );
      const series = await store.series({
        device: request.params.device,
        fromMs,
        toMs,
        width,
        metrics:
          named !== undefined
            ? { names: named }
            : { after: decodeCursor(query.metricCursor, isString), limit: pageSize },
      });
      return {
        width,
        metrics: series.metrics,
        nextMetricCursor: series.nextMetric === null ? null : encodeCursor(series.nextMetric),
        items: series.points,
      };
    },
  );

  typed.get(
    '/devices/:device/metrics',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'The metric names one device has sent, by name, cursor-paged',
        security: BEARER_SECURITY,
        params: DeviceParams,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }), cursor: Type.Optional(CursorParam) },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({ items: Type.Array(Type.String()), nextCursor: NextCursor }),
        }),
      },
    },
    async (request) => {
      const page = await store.metricNames({
        device: request.params.device,
        limit: request.query.limit,
        after: decodeCursor(request.query.cursor, isString),
      });
      return { items: page.items, nextCursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );

  typed.get(
    '/devices/:device/minutes',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'The per-minute document view of the seed: {minute, records, totalReceived, totalValid, totalInvalid}',
        security: BEARER_SECURITY,
        params: DeviceParams,
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            limit: Type.Integer({ minimum: 1, maximum: 60, default: 10, description: 'minutes per page' }),
            maxRecords: Type.Integer({ minimum: 1, maximum: 5000, default: 1000, description: 'records per minute' }),
            cursor: Type.Optional(CursorParam),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({ items: Type.Array(Type.Ref('MinuteDocument')), nextCursor: NextCursor }),
        }),
      },
    },
    async (request) => {
      const { fromMs, toMs } = parseRange(request.query, now(), HOUR_MS);
      const page = await store.minuteDocuments({
        device: request.params.device,
        fromMs,
        toMs,
        limit: request.query.limit,
        afterMinute: decodeCursor(request.query.cursor, isNumber),
        maxRecords: request.query.maxRecords,
      });
      return { items: page.items, nextCursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );
}
