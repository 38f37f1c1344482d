/**
 * Account administration for admins: list, create (a generated password is returned once when none is
 * given), change role, password or disabled state, and delete. An admin cannot demote or disable themselves, so
 * a hub is never left without the account that could repair it. Disabling or deleting an account also ends its
 * open live connections at once (through the LiveSessionControl port).
 */
import { Type } from '@sinclair/typebox';
import { UserList } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-errors.js';
import type { AccountStore, LiveSessionControl, Role } from './api-ports.js';
import { BEARER_SECURITY, RoleSchema, withErrorResponses } from './api-schemas.js';
import type { Authorizer } from './auth.js';
import { generatePassword, hashPassword, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS } from './password-hash.js';

export const USERNAME_PATTERN = '^[A-Za-z0-9._-]{3,64}$';
const Password = Type.String({ minLength: MIN_PASSWORD_CHARS, maxLength: MAX_PASSWORD_CHARS });

const CreateUserBody = Type.Object(
  {
    username: Type.String({ pattern: USERNAME_PATTERN }),
    role: RoleSchema,
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
);

const PatchUserBody = Type.Object(
  { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Password) },
  { additionalProperties: false, minProperties: 1 },
);

const UserIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) });

export function registerUserRoutes(
  app: FastifyInstance,
  accounts: AccountStore,
  auth: Authorizer,
  liveSessions?: LiveSessionControl,
): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const adminOnly = { onRequest: auth.require('admin') };

  typed.get(
    '/users',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        summary: 'List accounts (admin)',
        security: BEARER_SECURITY,
        response: withErrorResponses({ 200: UserList }),
      },
    },
    async () => ({ items: await accounts.listUsers() }),
  );

  typed.post(
    '/users',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        summary: 'Create an account (admin); without a password one is generated and returned once',
        security: BEARER_SECURITY,
        body: CreateUserBody,
        response: withErrorResponses({
          201: Type.Object({
            user: Type.Ref('User'),
            generatedPassword: Type.Optional(Type.String({ description: 'present only when none was given' })),
          }),
        }),
      },
    },
    async (request, reply) => {
      const generated = request.body.password === undefined ? generatePassword() : undefined;
      const passwordHash = await hashPassword(request.body.password ?? generated ?? '');
      const created = await accounts.createUser({
        username: request.body.username,
        role: request.body.role as Role,
        passwordHash,
      });
      if (!created.ok) throw new ApiError('conflict', 'that username is taken');
      return reply
        .code(201)
        .send(generated === undefined ? { user: created.user } : { user: created.user, generatedPassword: generated });
    },
  );

  typed.patch(
    '/users/:id',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        summary: 'Change the role, password or disabled state of an account (admin)',
        security: BEARER_SECURITY,
        params: UserIdParams,
        body: PatchUserBody,
        response: withErrorResponses({ 200: Type.Ref('User') }),
      },
    },
    async (request) => {
      const caller = auth.callerOf(request);
      const { disabled, password } = request.body;
      // The type provider widens the enum schema; the validator already pinned it to a Role.
      const role = request.body.role as Role | undefined;
      if (caller?.id === request.params.id && ((role !== undefined && role !== 'admin') || disabled === true)) {
        throw new ApiError('conflict', 'an admin cannot demote or disable their own account');
      }
      const updated = await accounts.updateUser(request.params.id, {
        ...(role === undefined ? {} : { role }),
        ...(disabled === undefined ? {} : { disabled }),
        ...(password === undefined ? {} : { passwordHash: await hashPassword(password) }),
      });
      if (updated === undefined) throw new ApiError('not_found', 'no such user');
      // Its API requests are refused from now on (the account is re-read on each); its live streams end too.
      if (updated.disabled) liveSessions?.endForAccount(updated.id);
      return updated;
    },
  );

  typed.delete(
    '/users/:id',
    {
      ...adminOnly,
      schema: {
        tags: ['users'],
        summary: 'Delete an account (admin); its live connections end at once',
        security: BEARER_SECURITY,
        params: UserIdParams,
        response: withErrorResponses({ 204: Type.Null() }),
      },
    },
    async (request, reply) => {
      if (auth.callerOf(request)?.id === request.params.id) {
        throw new ApiError('conflict', 'an admin cannot delete their own account');
      }
      if (!(await accounts.deleteUser(request.params.id))) throw new ApiError('not_found', 'no such user');
      liveSessions?.endForAccount(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
