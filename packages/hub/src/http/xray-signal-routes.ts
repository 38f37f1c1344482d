/**
 * GET /api/v1/xray/signals: the XRayIOT signal summaries (one per signal stored through AMQP or the
 * signed HTTP route: device, time, dataLength = data points, dataVolume = payload bytes), newest first,
 * filtered by device and signal time, paged by an opaque cursor.
 */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { BEARER_SECURITY, EpochMs, stringEnum, withErrorResponses } from './api-schemas.js';
import { CursorParam, decodeCursor, encodeCursor, parseTime, TimeParam } from './query-params.js';

/** What the route reads; store/xray-signals.ts implements it. */
export interface SignalQueryStore {
  signalSummaries(query: {
    readonly device: string | null;
    readonly fromMs: number | null;
    readonly toMs: number | null;
    readonly limit: number;
    readonly beforeId: number | null;
  }): Promise<
    ReadonlyArray<{
      readonly id: number;
      readonly deviceId: string;
      readonly time: number;
      readonly capturedAt: number;
      readonly receivedAt: number;
      readonly dataLength: number;
      readonly dataVolume: number;
      readonly format: string;
      readonly source: string;
      readonly correlationId: string | null;
      readonly payloadSha256: string;
    }>
  >;
}

export const SignalSummaryItem = Type.Object(
  {
    id: Type.String(),
    deviceId: Type.String(),
    time: Type.Number({
      description: "ms since the epoch: the sample data's `time`, or capturedAt for any other payload",
    }),
    capturedAt: EpochMs,
    receivedAt: EpochMs,
    dataLength: Type.Integer({ description: 'data points of the signal (readings stored from it)' }),
    dataVolume: Type.Integer({ description: 'bytes of the decoded payload' }),
    format: stringEnum(['xray-sample', 'opaque'] as const, {
      description: 'xray-sample: the seed sample format, one reading per point; opaque: one reading',
    }),
    source: Type.String({ description: 'amqp or http' }),
    correlationId: Type.Union([Type.String(), Type.Null()]),
    payloadSha256: Type.String({ description: 'hex SHA-256 of the payload text' }),
  },
  { $id: 'XRaySignalSummary' },
);

const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

export function registerXraySignalRoutes(
  app: FastifyInstance,
  store: SignalQueryStore,
  authorize: onRequestAsyncHookHandler,
): void {
  app.addSchema(SignalSummaryItem);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/xray/signals',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'XRayIOT signal summaries (device, time, dataLength, dataVolume), newest first',
        security: BEARER_SECURITY,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
            device: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            cursor: Type.Optional(CursorParam),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({
            items: Type.Array(Type.Ref('XRaySignalSummary')),
            nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
          }),
        }),
      },
    },
    async (request) => {
      const { query } = request;
      const rows = await store.signalSummaries({
        device: query.device ?? null,
        fromMs: query.from === undefined ? null : parseTime(query.from, 'from', 0),
        toMs: query.to === undefined ? null : parseTime(query.to, 'to', 0),
        // One more than asked says whether another page exists.
        limit: query.limit + 1,
        beforeId: decodeCursor(query.cursor, isId),
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return {
        items: items.map((row) => ({ ...row, id: String(row.id) })),
        nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor(last.id) : null,
      };
    },
  );
}
