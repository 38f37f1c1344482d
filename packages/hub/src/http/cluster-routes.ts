/**
 * GET /api/v1/cluster: which hub processes are up, their roles and rates (from their heartbeats in
 * Redis; a single process without Redis answers with itself). Operators and admins only, like the other
 * routes about the hub's own machinery.
 */
import { ClusterNode, ClusterView } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from './api-errors.js';
import { BEARER_SECURITY, withErrorResponses } from './api-schemas.js';

export interface ClusterSource {
  /** The nodes up now; throws when their shared state cannot be read (answered 503). */
  nodes(): Promise<ClusterNode[]>;
  readonly instance: string;
}

export function registerClusterRoutes(
  app: FastifyInstance,
  source: ClusterSource,
  authorize: onRequestAsyncHookHandler,
): void {
  app.addSchema(ClusterNode);
  app.addSchema(ClusterView);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/cluster',
    {
      onRequest: authorize,
      schema: {
        tags: ['ops'],
        summary: 'The hub processes that are up (heartbeats), their roles and rates',
        security: BEARER_SECURITY,
        response: withErrorResponses({ 200: Type.Ref('ClusterView') }),
      },
    },
    async () => {
      try {
        return { nodes: await source.nodes(), answeredBy: source.instance };
      } catch {
        throw new ApiError('state_unavailable', 'the cluster heartbeats (Redis) cannot be read now; retry later');
      }
    },
  );
}
