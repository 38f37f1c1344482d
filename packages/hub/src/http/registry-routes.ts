/**
 * The device registry over HTTP: register a device (its first key is returned once), describe it,
 * rotate its key with an overlap window, revoke one key or the whole device. Viewers read; operators
 * and admins write. Secrets appear only in the 201 answers that issue them, never in logs or errors.
 */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { RegistryError, type DeviceRegistry } from '../registry/device-registry.js';
import { ApiError } from './api-errors.js';
import { BEARER_SECURITY, EpochMs, stringEnum, withErrorResponses } from './api-schemas.js';

const DEVICE_ID = '^[A-Za-z0-9._:-]{1,128}$';
const MAX_OVERLAP_SECONDS = 30 * 86_400;

const DeviceRecord = Type.Object(
  {
    id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    createdAt: EpochMs,
    revokedAt: Type.Union([EpochMs, Type.Null()]),
    status: stringEnum(['active', 'revoked'] as const),
  },
  { $id: 'DeviceRecord' },
);

const KeyRecordFields = {
  keyId: Type.String(),
  device: Type.String(),
  createdAt: EpochMs,
  expiresAt: Type.Union([EpochMs, Type.Null()], { description: 'end of the overlap window after a rotation' }),
  revokedAt: Type.Union([EpochMs, Type.Null()]),
  status: stringEnum(['active', 'expiring', 'expired', 'revoked'] as const),
  kind: stringEnum(['raw', 'utf8'] as const, {
    description: "raw: a random 32-byte secret; utf8: a string HMAC credential (XRayIOT's HMAC_SECRET)",
  }),
};
const HmacSecret = Type.String({
  minLength: 1,
  maxLength: 1024,
  description:
    "register a string HMAC credential (XRayIOT's HMAC_SECRET, 16..1024 UTF-8 bytes) instead of a random secret; " +
    'signed JSON (HTTP, AMQP) is verified with the string as the HMAC key; never echoed',
});
const KeyRecord = Type.Object(KeyRecordFields, { $id: 'KeyRecord' });
const IssuedKey = Type.Object(
  {
    ...KeyRecordFields,
    secret: Type.String({
      description:
        'the device secret, 64 hex characters (for a utf8 key: SHA-256 of the string); shown only in this answer',
    }),
    deviceToken: Type.String({ description: 'bearer token for POST /ingest; shown only in this answer' }),
  },
  { $id: 'IssuedKey' },
);

const DeviceParams = Type.Object({ device: Type.String({ pattern: DEVICE_ID }) });
const KeyParams = Type.Object({
  device: Type.String({ pattern: DEVICE_ID }),
  keyId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }),
});

export interface RegistryRouteRoles {
  readonly read: onRequestAsyncHookHandler;
  readonly manage: onRequestAsyncHookHandler;
}

export function registerRegistryRoutes(
  app: FastifyInstance,
  registry: DeviceRegistry,
  roles: RegistryRouteRoles,
): void {
  for (const schema of [DeviceRecord, KeyRecord, IssuedKey]) app.addSchema(schema);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/devices',
    {
      onRequest: roles.manage,
      schema: {
        tags: ['devices'],
        summary: 'Register a device and issue its first key (operator); the secret is shown only here',
        security: BEARER_SECURITY,
        body: Type.Object(
          {
            id: Type.String({ pattern: DEVICE_ID }),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            hmacSecret: Type.Optional(HmacSecret),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          201: Type.Object({ device: Type.Ref('DeviceRecord'), key: Type.Ref('IssuedKey') }),
        }),
      },
    },
    async (request, reply) => {
      const { id, name, hmacSecret } = request.body;
      const issued = await translate(() =>
        registry.register({ id, name: name ?? null, ...(hmacSecret === undefined ? {} : { hmacSecret }) }),
      );
      return reply.code(201).header('cache-control', 'no-store').send(issued);
    },
  );

  typed.get(
    '/devices/:device',
    {
      onRequest: roles.read,
      schema: {
        tags: ['devices'],
        summary: 'A registered device and its keys (never their secrets)',
        security: BEARER_SECURITY,
        params: DeviceParams,
        response: withErrorResponses({
          200: Type.Object({ device: Type.Ref('DeviceRecord'), keys: Type.Array(Type.Ref('KeyRecord')) }),
        }),
      },
    },
    async (request) => translate(() => registry.describe(request.params.device)),
  );

  typed.post(
    '/devices/:device/keys',
    {
      onRequest: roles.manage,
      // `curl -X POST` with no body is the common case: treat it as {} (the default overlap).
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['devices'],
        summary: 'Rotate: issue a new key (operator); the previous keys keep working for the overlap window',
        security: BEARER_SECURITY,
        params: DeviceParams,
        body: Type.Object(
          {
            overlapSeconds: Type.Optional(
              Type.Integer({ minimum: 0, maximum: MAX_OVERLAP_SECONDS, description: 'default 86400' }),
            ),
            hmacSecret: Type.Optional(HmacSecret),
          },
          { additionalProperties: false },
        ),
        response: withErrorResponses({
          201: Type.Object({ key: Type.Ref('IssuedKey'), previous: Type.Array(Type.Ref('KeyRecord')) }),
        }),
      },
    },
    async (request, reply) => {
      const overlapSeconds = request.body.overlapSeconds;
      const rotated = await translate(() =>
        registry.rotate(
          request.params.device,
          overlapSeconds === undefined ? undefined : overlapSeconds * 1000,
          request.body.hmacSecret,
        ),
      );
      return reply.code(201).header('cache-control', 'no-store').send(rotated);
    },
  );

  typed.post(
    '/devices/:device/keys/:keyId/revoke',
    {
      onRequest: roles.manage,
      schema: {
        tags: ['devices'],
        summary: 'Revoke one key (operator): frames sealed with it are refused from now on',
        security: BEARER_SECURITY,
        params: KeyParams,
        response: withErrorResponses({ 200: Type.Ref('KeyRecord') }),
      },
    },
    async (request) => translate(() => registry.revokeKey(request.params.device, request.params.keyId)),
  );

  typed.post(
    '/devices/:device/revoke',
    {
      onRequest: roles.manage,
      schema: {
        tags: ['devices'],
        summary: 'Revoke a device and all its keys (operator)',
        security: BEARER_SECURITY,
        params: DeviceParams,
        response: withErrorResponses({ 200: Type.Ref('DeviceRecord') }),
      },
    },
    async (request) => translate(() => registry.revokeDevice(request.params.device)),
  );
}

/** Registry refusals become API errors with the same meaning. */
async function translate<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    switch (error.code) {
      case 'invalid':
        throw new ApiError('bad_request', error.message);
      case 'not_found':
        throw new ApiError('not_found', error.message);
      case 'conflict':
        throw new ApiError('conflict', error.message);
      case 'registry_unavailable':
        throw new ApiError('not_configured', error.message);
    }
  }
}
