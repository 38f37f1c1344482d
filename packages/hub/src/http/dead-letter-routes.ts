/**
 * Read access to the dead-letter store: refusals newest first with a hex preview of their bytes,
 * filtered by reason, source, device and receive time, keyset-paged on (received_at, id). The item
 * shape is the one the dashboard parses; `nextCursor` was added beside `items`.
 */
import { Type } from '@sinclair/typebox';
import {
  DEAD_LETTER_PREVIEW_BYTES,
  DeadLetterItem,
  type DeadLetterItem as DeadLetterAnswer,
} from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { REASONS, type ReasonCode } from '@sealstream/protocol';
import type { DeadLetterRow, SourceKind } from '../pipeline/ports.js';
import type { QueryStore } from './api-ports.js';
import { BEARER_SECURITY, stringEnum, withErrorResponses } from './api-schemas.js';
import { CursorParam, decodeCursor, encodeCursor, parseTime, TimeParam } from './query-params.js';

const isIdCursor = (value: unknown): value is [number, string] =>
  Array.isArray(value) &&
  value.length === 2 &&
  Number.isFinite(value[0]) &&
  typeof value[1] === 'string' &&
  /^[0-9]{1,18}$/.test(value[1]);

const PREVIEW_BYTES = DEAD_LETTER_PREVIEW_BYTES;

/** The contract's item schema, re-exported under the name other routes import. */
export { DeadLetterItem };

export function deadLetterItem(row: DeadLetterRow): DeadLetterAnswer {
  return {
    id: row.id,
    reason: row.reason,
    source: row.source,
    peer: row.peer,
    device: row.device,
    detail: row.detail,
    receivedAt: row.receivedAt,
    rawHex: Buffer.from(row.raw.subarray(0, PREVIEW_BYTES)).toString('hex'),
    truncated: row.truncated || row.raw.byteLength > PREVIEW_BYTES,
    redrivenAt: row.redrivenAt ?? null,
    redriveOutcome: isRedriveOutcome(row.redriveOutcome) ? row.redriveOutcome : null,
  };
}

function isRedriveOutcome(value: unknown): value is 'accepted' | 'duplicate' | 'refused' {
  return value === 'accepted' || value === 'duplicate' || value === 'refused';
}

export function registerDeadLetterRoutes(
  app: FastifyInstance,
  store: QueryStore,
  authorize: onRequestAsyncHookHandler,
): void {
  app.addSchema(DeadLetterItem);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/dead-letters',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'The newest dead letters (refused inputs), newest first',
        security: BEARER_SECURITY,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
            reason: Type.Optional(stringEnum(Object.keys(REASONS) as ReasonCode[])),
            source: Type.Optional(stringEnum(['tcp', 'legacy', 'http', 'mqtt', 'amqp'] as const)),
            device: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            cursor: Type.Optional(CursorParam),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          200: Type.Object({
            items: Type.Array(Type.Ref('DeadLetter')),
            nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
          }),
        }),
      },
    },
    async (request) => {
      const { query } = request;
      const before = decodeCursor(query.cursor, isIdCursor);
      const page = await store.deadLetterPage({
        filter: {
          ...(query.reason === undefined ? {} : { reason: query.reason as ReasonCode }),
          ...(query.source === undefined ? {} : { source: query.source as SourceKind }),
          ...(query.device === undefined ? {} : { device: query.device }),
          ...(query.from === undefined ? {} : { fromMs: parseTime(query.from, 'from', 0) }),
          ...(query.to === undefined ? {} : { toMs: parseTime(query.to, 'to', 0) }),
        },
        limit: query.limit,
        before: before === null ? null : { receivedAt: before[0], id: before[1] },
      });
      return {
        items: page.items.map(deadLetterItem),
        nextCursor: page.next === null ? null : encodeCursor([page.next.receivedAt, page.next.id]),
      };
    },
  );
}
