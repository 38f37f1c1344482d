/**
 * GET /api/v1/stats: the pipeline's running totals and rates, the same object the live feed pushes;
 * GET /api/v1/stats/rates: those rates once a second over the last five minutes, which a dashboard draws
 * on load so its throughput chart does not start empty.
 */
import { Type } from '@sinclair/typebox';
import { Stats, type Stats as StatsAnswer } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { LiveStats } from '@sealstream/protocol';
import type { RatePoint } from '../pipeline/stats-tracker.js';
import { BEARER_SECURITY, withErrorResponses } from './api-schemas.js';

/** The contract's `Stats`; the same object the live feed pushes, so it must stay LiveStats field for field. */
export const StatsSchema = Stats;
// Fails the type check when the REST contract and the live contract drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statsMatchLiveStats: Same<StatsAnswer, LiveStats> = true;
void statsMatchLiveStats;

const RatesSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        at: Type.Number({ description: 'ms since the epoch (whole seconds)' }),
        readingsPerSec: Type.Number(),
        rejectsPerSec: Type.Number(),
      }),
      { description: 'oldest first, one a second since this hub process started, at most the last 300 s' },
    ),
  },
  { $id: 'StatsRates' },
);

export function registerStatsRoutes(
  app: FastifyInstance,
  stats: () => LiveStats,
  authorize: onRequestAsyncHookHandler,
  rateHistory: () => readonly RatePoint[] = () => [],
): void {
  app.addSchema(RatesSchema);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/stats/rates',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: "The stats' readings/s and rejects/s once a second over the last five minutes (this hub)",
        security: BEARER_SECURITY,
        response: withErrorResponses({ 200: Type.Ref('StatsRates') }),
      },
    },
    async () => ({ items: [...rateHistory()] }),
  );
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
