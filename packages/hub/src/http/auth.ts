/**
 * API authentication and authorization: short-lived HS256 JWTs (the algorithm is pinned for signing
 * AND verifying, so a token cannot pick its own), the login route, and role checks as onRequest hooks (before body parsing and validation, so an anonymous caller learns nothing about the schema).
 * Roles are ordered viewer < operator < admin; each route names the least role it needs. The account
 * is re-read on every request, so disabling a user or changing a role takes effect before the token
 * expires. Machine clients may present an API key instead (`Authorization: Bearer ssk_…` or
 * `X-API-Key`): its scopes map to a role (`manage` → operator, `read` → viewer), never to admin, and a
 * revoked key is refused on its next request.
 * A signed-in user renews a still-valid token with POST /api/v1/auth/refresh before it expires, so a
 * dashboard left open is not signed out every TTL; the new token carries the account's current role and
 * the original sign-in time, and no refresh is granted more than `maxSessionSeconds` (12 h) after it.
 * Routes meant for people only (refresh, export tickets) refuse API keys: those do not expire and
 * have no account to re-check later.
 */
import { createHash } from 'node:crypto';
import fastifyJwt from '@fastify/jwt';
import { Type } from '@sinclair/typebox';
import { User } from '@sealstream/contract';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { SharedWindowCounter } from '../pipeline/shared-state-ports.js';
import { ApiError } from './api-errors.js';
import { AuthFailureBudget } from './auth-failures.js';
import type { AccountStore, Role, UserRow } from './api-ports.js';
import { withErrorResponses } from './api-schemas.js';
import { hashPassword, MAX_PASSWORD_CHARS, verifyPassword } from './password-hash.js';

export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };
export const JWT_ALGORITHM = 'HS256';
export const MIN_JWT_SECRET_BYTES = 32;
export const DEFAULT_TOKEN_TTL_SECONDS = 900;
/** How long refreshes may extend one sign-in; after it the user signs in again. */
export const DEFAULT_MAX_SESSION_SECONDS = 12 * 3600;

/** Checks a presented API key against the store (registry/api-keys.ts implements it). */
export interface ApiKeyVerifier {
  verify(presented: string): Promise<
    | {
        readonly ok: true;
        readonly key: {
          readonly id: string;
          readonly name: string;
          readonly scopes: readonly string[];
          readonly createdAt: number;
        };
      }
    | { readonly ok: false; readonly why: string }
  >;
}

export const API_KEY_PREFIX = 'ssk_';

export interface AuthOptions {
  readonly accounts: AccountStore;
  /** When absent, API keys are not accepted. */
  readonly apiKeys?: ApiKeyVerifier;
  /** Failed API-key checks allowed per client address and minute before they are refused unseen; default 20. */
  readonly apiKeyFailuresPerMinute?: number;
  /** Counts those failures across hubs (Redis); absent: per process. */
  readonly sharedFailures?: SharedWindowCounter;
  readonly jwtSecret: string;
  readonly tokenTtlSeconds?: number;
  /** Refresh refuses a token whose sign-in (`auth_time`) is older than this; default 12 h. */
  readonly maxSessionSeconds?: number;
}

interface TokenClaims {
  readonly sub: string;
  readonly role: Role;
  /** When the user signed in (s since the epoch); a refresh carries it over. Absent in older tokens. */
  readonly auth_time?: number;
  readonly iat?: number;
}

export interface Authorizer {
  /**
   * An onRequest hook admitting callers whose role is at least `role`; `open` skips the check (demo reads);
   * `usersOnly` refuses API keys (403) on routes that only make sense for a signed-in person.
   */
  require(role: Role, options?: { open?: boolean; usersOnly?: boolean }): onRequestAsyncHookHandler;
  /** The account behind the current request, once a `require` hook admitted it. */
  callerOf(request: FastifyRequest): UserRow | undefined;
}

/** The account as the API shows it (the contract's `User`, registered under its $id `User`). */
export const UserView = User;

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

/** The bearer value or X-API-Key header of a request, when present and well-formed. */
export function presentedCredential(request: FastifyRequest): { kind: 'jwt' | 'api-key'; value: string } | undefined {
  const apiKeyHeader = request.headers['x-api-key'];
  if (typeof apiKeyHeader === 'string' && apiKeyHeader.startsWith(API_KEY_PREFIX)) {
    return { kind: 'api-key', value: apiKeyHeader };
  }
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header) : null;
  if (match?.[1] === undefined) return undefined;
  return { kind: match[1].startsWith(API_KEY_PREFIX) ? 'api-key' : 'jwt', value: match[1] };
}

/**
 * Who a request claims to be, for rate-limit keys, without touching the store: a verified token's
 * account, or a digest of a presented API key (a digest, not the key's public id, so nobody can spend
 * another key's budget by quoting its id).
 */
export function bearerSubject(
  app: FastifyInstance,
  request: FastifyRequest,
): { kind: 'user' | 'api-key'; id: string } | undefined {
  const credential = presentedCredential(request);
  if (credential === undefined) return undefined;
  if (credential.kind === 'api-key') {
    return { kind: 'api-key', id: createHash('sha256').update(credential.value).digest('hex').slice(0, 32) };
  }
  try {
    const claims = app.jwt.verify<Partial<TokenClaims>>(credential.value);
    return typeof claims.sub === 'string' ? { kind: 'user', id: claims.sub } : undefined;
  } catch {
    return undefined;
  }
}

/** The role an API key acts with: the highest its scopes allow, never admin. */
export function roleOfScopes(scopes: readonly string[]): Role | undefined {
  if (scopes.includes('manage')) return 'operator';
  if (scopes.includes('read')) return 'viewer';
  return undefined;
}

/**
 * The token signer and verifier (`app.jwt`), app-wide: the live layer checks the same tokens on its
 * handshake, outside the API scope. Register on the root before `registerAuth` runs in the API scope.
 */
export async function registerTokens(
  app: FastifyInstance,
  options: Pick<AuthOptions, 'jwtSecret' | 'tokenTtlSeconds'>,
): Promise<void> {
  if (Buffer.byteLength(options.jwtSecret) < MIN_JWT_SECRET_BYTES) {
    throw new Error(`auth: the JWT secret must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }
  await app.register(fastifyJwt, {
    secret: options.jwtSecret,
    sign: { algorithm: JWT_ALGORITHM, expiresIn: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS },
    // Tokens this hub signs always carry exp; one without it (made with a leaked secret) would never expire.
    verify: { algorithms: [JWT_ALGORITHM], requiredClaims: ['exp'] },
  });
}

/** The login, refresh and me routes and the role hooks; `registerTokens` must have run on an ancestor. */
export async function registerAuth(app: FastifyInstance, options: AuthOptions): Promise<Authorizer> {
  const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const maxSession = options.maxSessionSeconds ?? DEFAULT_MAX_SESSION_SECONDS;
  app.addSchema(UserView);
  // Login with an unknown name still pays for one hash, so timing does not reveal which names exist.
  const decoyHash = await hashPassword('decoy-password-never-matches');
  const callers = new WeakMap<FastifyRequest, UserRow>();

  const authenticate = async (request: FastifyRequest): Promise<UserRow> => {
    const credential = presentedCredential(request);
    if (credential === undefined) throw new ApiError('unauthorized', 'a bearer token or API key is required');
    if (credential.kind === 'api-key') return authenticateApiKey(credential.value, request.ip);
    let claims: TokenClaims;
    try {
      claims = app.jwt.verify<TokenClaims>(credential.value);
    } catch {
      throw new ApiError('unauthorized', 'the token is invalid or expired');
    }
    const user = typeof claims.sub === 'string' ? await options.accounts.findUserById(claims.sub) : undefined;
    if (user === undefined || user.disabled) throw new ApiError('unauthorized', 'the account is unknown or disabled');
    return { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt, disabled: false };
  };

  /** An API key acts as a pseudo-account `api-key:<id>` with the role its scopes allow. */
  const failures = new AuthFailureBudget(
    options.apiKeyFailuresPerMinute ?? 20,
    60_000,
    Date.now,
    options.sharedFailures,
  );
  const authenticateApiKey = async (presented: string, address: string): Promise<UserRow> => {
    if (options.apiKeys === undefined) throw new ApiError('unauthorized', 'API keys are not accepted by this hub');
    await failures.check(address);
    const check = await options.apiKeys.verify(presented);
    if (!check.ok) {
      await failures.record(address);
      throw new ApiError('unauthorized', check.why);
    }
    const role = roleOfScopes(check.key.scopes);
    if (role === undefined) throw new ApiError('forbidden', 'this API key has no scope for this route');
    return {
      id: `api-key:${check.key.id}`,
      username: `api-key:${check.key.name}`,
      role,
      createdAt: check.key.createdAt,
      disabled: false,
    };
  };

  /** The login answer: a fresh token for the account as it is now (its current role). */
  const tokenAnswer = (user: UserRow, authTime: number) => ({
    token: app.jwt.sign({ sub: user.id, role: user.role, auth_time: authTime } satisfies TokenClaims),
    tokenType: 'Bearer' as const,
    expiresIn: ttl,
    user: { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt, disabled: false },
  });

  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.post(
    '/auth/login',
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
      return tokenAnswer(user, Math.floor(Date.now() / 1000));
    },
  );

  const authorizer: Authorizer = {
    require(role, requireOptions) {
      return async (request) => {
        if (requireOptions?.open === true) return;
        const caller = await authenticate(request);
        if (requireOptions?.usersOnly === true && presentedCredential(request)?.kind !== 'jwt') {
          throw new ApiError('forbidden', 'this route is for signed-in users; API keys are not accepted');
        }
        if (ROLE_RANK[caller.role] < ROLE_RANK[role]) {
          throw new ApiError('forbidden', `this route needs the ${role} role or higher`);
        }
        callers.set(request, caller);
      };
    },
    callerOf: (request) => callers.get(request),
  };

  typed.get(
    '/auth/me',
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

  // The hook has re-read the account (it exists, is enabled, and has its current role), so a refresh
  // can neither outlive a disabled account nor keep a role that was taken away.
  typed.post(
    '/auth/refresh',
    {
      onRequest: authorizer.require('viewer', { usersOnly: true }),
      schema: {
        tags: ['auth'],
        summary: 'Exchange a still-valid user token for a fresh one (same answer as login; never for API keys)',
        security: [{ bearerAuth: [] }],
        response: withErrorResponses({ 200: LoginAnswer }),
      },
    },
    async (request) => {
      const caller = authorizer.callerOf(request);
      const credential = presentedCredential(request);
      if (caller === undefined || credential === undefined) {
        throw new Error('auth: the onRequest hook did not record the caller');
      }
      // Verified by the hook already; read again for the sign-in time (older tokens: their issue time).
      const claims = app.jwt.verify<TokenClaims>(credential.value);
      const authTime = claims.auth_time ?? claims.iat ?? 0;
      if (Math.floor(Date.now() / 1000) - authTime > maxSession) {
        throw new ApiError('unauthorized', 'the session reached its maximum age; sign in again');
      }
      return tokenAnswer(caller, authTime);
    },
  );
  return authorizer;
}
