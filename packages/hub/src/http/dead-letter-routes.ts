/** Read access to the dead-letter store for the dashboard: the most recent refusals with a hex preview. */
import type { FastifyInstance } from 'fastify';
import type { ReadingStore } from '../pipeline/ports.js';

const PREVIEW_BYTES = 256;

export function registerDeadLetterRoutes(app: FastifyInstance, store: ReadingStore): void {
  app.get<{ Querystring: { limit?: number } }>(
    '/api/v1/dead-letters',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const rows = await store.recentDeadLetters(request.query.limit ?? 50);
      return {
        items: rows.map((row) => ({
          id: row.id,
          reason: row.reason,
          source: row.source,
          peer: row.peer,
          device: row.device,
          detail: row.detail,
          receivedAt: row.receivedAt,
          rawHex: Buffer.from(row.raw.subarray(0, PREVIEW_BYTES)).toString('hex'),
          truncated: row.truncated || row.raw.byteLength > PREVIEW_BYTES,
        })),
      };
    },
  );
}
