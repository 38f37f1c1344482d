/** GET /api/v1/stats: the pipeline's running totals and rates, the same object the live feed pushes. */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { LiveStats } from '@sealstream/protocol';
import { BEARER_SECURITY, withErrorResponses } from './api-schemas.js';

/** Field for field the protocol's LiveStats; the dashboard checks every one of them. */
export const StatsSchema = Type.Object(
  {
    totalReceived: Type.Number(),
    totalValid: Type.Number(),
    totalInvalid: Type.Number(),
    totalDuplicate: Type.Number(),
    successRate: Type.Number({ description: 'totalValid / totalReceived in percent, two decimals; 100 when empty' }),
    readingsPerSec: Type.Number(),
    rejectsPerSec: Type.Number(),
    rejectsByReason: Type.Record(Type.String(), Type.Number()),
    at: Type.Number({ description: 'ms since the epoch when these numbers were taken' }),
  },
  { $id: 'Stats' },
);

export function registerStatsRoutes(
  app: FastifyInstance,
  stats: () => LiveStats,
  authorize: onRequestAsyncHookHandler,
): void {
  app.addSchema(StatsSchema);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/stats',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Totals since the store began, success rate and current rates',
        security: BEARER_SECURITY,
        response: withErrorResponses({ 200: Type.Ref('Stats') }),
      },
    },
    async () => stats(),
  );
}
