/** GET /api/v1/stats: the pipeline's running totals and rates, the same object the live feed pushes. */
import { Type } from '@sinclair/typebox';
import { Stats, type Stats as StatsAnswer } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { LiveStats } from '@sealstream/protocol';
import { BEARER_SECURITY, withErrorResponses } from './api-schemas.js';

/** The contract's `Stats`; the same object the live feed pushes, so it must stay LiveStats field for field. */
export const StatsSchema = Stats;
// Fails the type check when the REST contract and the live contract drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statsMatchLiveStats: Same<StatsAnswer, LiveStats> = true;
void statsMatchLiveStats;

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
