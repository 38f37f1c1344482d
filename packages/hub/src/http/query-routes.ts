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

const DeviceParams = Type.Object({ device: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }) });
const NextCursor = Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' });

const isString = (value: unknown): value is string => typeof value === 'string';
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
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({ width: Type.String(), items: Type.Array(Type.Ref('SeriesPoint')) }),
        }),
      },
    },
    async (request) => {
      const width = request.query.width as SeriesWidth;
      const { fromMs, toMs } = parseRange(request.query, now(), 24 * HOUR_MS);
      if ((toMs - fromMs) / WIDTH_MS[width] > MAX_SERIES_POINTS) {
        throw new ApiError('validation_failed', 'the request does not match the schema', [
          {
            in: 'querystring',
            path: '/width',
            message: `the range holds more than ${MAX_SERIES_POINTS} buckets of this width`,
          },
        ]);
      }
      const items = await store.series({
        device: request.params.device,
        fromMs,
        toMs,
        width,
        ...(request.query.metric === undefined ? {} : { metric: request.query.metric }),
      });
      return { width, items };
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
