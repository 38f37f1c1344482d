/**
 * API authentication and authorization: short-lived HS256 JWTs (the algorithm is pinned for signing
 * AND verifying, so a token cannot pick its own), the login route, and role checks as onRequest hooks (before body parsing and validation, so an anonymous caller learns nothing about the schema).
 * Roles are ordered viewer < operator < admin; each route names the least role it needs. The account
 * is re-read on every request, so disabling a user or changing a role takes effect before the token
 * expires.
 */
import fastifyJwt from '@fastify/jwt';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from './api-errors.js';
import type { AccountStore, Role, UserRow } from './api-ports.js';
import { RoleSchema, withErrorResponses } from './api-schemas.js';
import { hashPassword, MAX_PASSWORD_CHARS, verifyPassword } from './password-hash.js';

export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };
export const JWT_ALGORITHM = 'HS256';
export const MIN_JWT_SECRET_BYTES = 32;
export const DEFAULT_TOKEN_TTL_SECONDS = 900;

export interface AuthOptions {
  readonly accounts: AccountStore;
  readonly jwtSecret: string;
  readonly tokenTtlSeconds?: number;
}

interface TokenClaims {
  readonly sub: string;
  readonly role: Role;
}

export interface Authorizer {
  /** An onRequest hook admitting callers whose role is at least `role`; `open` skips the check (demo reads). */
  require(role: Role, options?: { open?: boolean }): onRequestAsyncHookHandler;
  /** The account behind the current request, once a `require` hook admitted it. */
  callerOf(request: FastifyRequest): UserRow | undefined;
}

export const UserView = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: RoleSchema,
    createdAt: Type.Number(),
    disabled: Type.Boolean(),
  },
  { $id: 'User' },
);

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_CHARS }),
  },
  { additionalProperties: false },
);

const LoginAnswer = Type.Object({
  token: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds until the token expires' }),
  user: Type.Ref('User'),
});

/** The verified subject of the request's bearer token, without touching the store (for rate-limit keys). */
export function bearerSubject(app: FastifyInstance, request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header) : null;
  if (match?.[1] === undefined) return undefined;
  try {
    const claims = app.jwt.verify<Partial<TokenClaims>>(match[1]);
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

export async function registerAuth(app: FastifyInstance, options: AuthOptions): Promise<Authorizer> {
  if (Buffer.byteLength(options.jwtSecret) < MIN_JWT_SECRET_BYTES) {
    throw new Error(`auth: the JWT secret must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }
  const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  await app.register(fastifyJwt, {
    secret: options.jwtSecret,
    sign: { algorithm: JWT_ALGORITHM, expiresIn: ttl },
    verify: { algorithms: [JWT_ALGORITHM] },
  });
  app.addSchema(UserView);
  // Login with an unknown name still pays for one hash, so timing does not reveal which names exist.
  const decoyHash = await hashPassword('decoy-password-never-matches');
  const callers = new WeakMap<FastifyRequest, UserRow>();

  const authenticate = async (request: FastifyRequest): Promise<UserRow> => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header) : null;
    if (match?.[1] === undefined) throw new ApiError('unauthorized', 'a bearer token is required');
    let claims: TokenClaims;
    try {
      claims = app.jwt.verify<TokenClaims>(match[1]);
    } catch {
      throw new ApiError('unauthorized', 'the token is invalid or expired');
    }
    const user = typeof claims.sub === 'string' ? await options.accounts.findUserById(claims.sub) : undefined;
    if (user === undefined || user.disabled) throw new ApiError('unauthorized', 'the account is unknown or disabled');
    return { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt, disabled: false };
  };

  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a username and password for a short-lived bearer token',
        body: LoginBody,
        response: withErrorResponses({ 200: LoginAnswer }),
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const user = await options.accounts.findUserByName(username);
      const valid = await verifyPassword(password, user?.passwordHash ?? decoyHash);
      if (user === undefined || !valid || user.disabled) {
        throw new ApiError('invalid_credentials', 'unknown user, wrong password or disabled account');
      }
      const token = app.jwt.sign({ sub: user.id, role: user.role } satisfies TokenClaims);
      return {
        token,
        tokenType: 'Bearer' as const,
        expiresIn: ttl,
        user: { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt, disabled: false },
      };
    },
  );

  const authorizer: Authorizer = {
    require(role, requireOptions) {
      return async (request) => {
        if (requireOptions?.open === true) return;
        const caller = await authenticate(request);
        if (ROLE_RANK[caller.role] < ROLE_RANK[role]) {
          throw new ApiError('forbidden', `this route needs the ${role} role or higher`);
        }
        callers.set(request, caller);
      };
    },
    callerOf: (request) => callers.get(request),
  };

  typed.get(
    '/api/v1/auth/me',
    {
      onRequest: authorizer.require('viewer'),
      schema: {
        tags: ['auth'],
        summary: 'The account behind the bearer token',
        security: [{ bearerAuth: [] }],
        response: withErrorResponses({ 200: Type.Ref('User') }),
      },
    },
    async (request) => {
      const caller = authorizer.callerOf(request);
      if (caller === undefined) throw new Error('auth: the onRequest hook did not record the caller');
      return caller;
    },
  );
  return authorizer;
}
