/**
 * API keys over HTTP (admin only): issue (the secret is returned once), list, revoke. The store keeps
 * only a digest of each secret; listing shows names, scopes and last use, never a secret.
 */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ApiKeys } from '../registry/api-keys.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../registry/registry-ports.js';
import { ApiError } from './api-errors.js';
import { BEARER_SECURITY, EpochMs, stringEnum, withErrorResponses } from './api-schemas.js';

const ScopeSchema = stringEnum(API_KEY_SCOPES, {
  description: 'read: the viewer routes; manage: also device management and re-drive (operator)',
});

const ApiKeyRecord = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scopes: Type.Array(ScopeSchema),
    createdAt: EpochMs,
    revokedAt: Type.Union([EpochMs, Type.Null()]),
    lastUsedAt: Type.Union([EpochMs, Type.Null()], { description: 'updated at most once a minute' }),
  },
  { $id: 'ApiKeyRecord' },
);

export function registerApiKeyRoutes(app: FastifyInstance, apiKeys: ApiKeys, admin: onRequestAsyncHookHandler): void {
  app.addSchema(ApiKeyRecord);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/api-keys',
    {
      onRequest: admin,
      schema: {
        tags: ['api-keys'],
        summary: 'Issue an API key for a machine client (admin); the secret is shown only here',
        security: BEARER_SECURITY,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: API_KEY_SCOPES.length, uniqueItems: true }),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          201: Type.Object({
            apiKey: Type.Ref('ApiKeyRecord'),
            secret: Type.String({ description: 'ssk_<id>_<secret>: send as `Authorization: Bearer` or `X-API-Key`' }),
          }),
        }),
      },
    },
    async (request, reply) => {
      const issued = await apiKeys.issue({
        name: request.body.name,
        scopes: request.body.scopes as ApiKeyScope[],
      });
      return reply.code(201).header('cache-control', 'no-store').send(issued);
    },
  );

  typed.get(
    '/api-keys',
    {
      onRequest: admin,
      schema: {
        tags: ['api-keys'],
        summary: 'List API keys (admin), oldest first',
        security: BEARER_SECURITY,
        response: withErrorResponses({ 200: Type.Object({ items: Type.Array(Type.Ref('ApiKeyRecord')) }) }),
      },
    },
    async () => ({ items: await apiKeys.list() }),
  );

  typed.post(
    '/api-keys/:id/revoke',
    {
      onRequest: admin,
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key (admin); its next request is refused',
        security: BEARER_SECURITY,
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) }),
        response: withErrorResponses({ 200: Type.Ref('ApiKeyRecord') }),
      },
    },
    async (request) => {
      const revoked = await apiKeys.revoke(request.params.id);
      if (revoked === undefined) throw new ApiError('not_found', `no API key ${request.params.id}`);
      return revoked;
    },
  );
}
