/**
 * Request rate limits for the API (in memory, per hub process): `login` per client address on the login
 * route, and `api` per account (per address for calls without a valid token) on every other /api route.
 * A refusal is 429 `rate_limited` whose details name the limit, its window, what remains and when it
 * resets; the same numbers are in the x-ratelimit-* and retry-after headers.
 */
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './api-errors.js';

export interface RateLimitSettings {
  /** Requests per window and account (or address) on /api routes other than login. */
  readonly apiPerWindow: number;
  /** Login attempts per window and client address. */
  readonly loginPerWindow: number;
  readonly windowMs: number;
}

export const LOGIN_ROUTE = '/api/v1/auth/login';
/** Bounds the per-key counters kept in memory; the least recently used keys are dropped beyond it. */
const MAX_TRACKED_KEYS = 100_000;

function limitName(request: FastifyRequest): 'login' | 'api' {
  return request.routeOptions.url === LOGIN_ROUTE ? 'login' : 'api';
}

/** Registers the limiter; must run before the routes it limits are added. */
export async function registerRateLimits(
  app: FastifyInstance,
  settings: RateLimitSettings,
  accountOf: (request: FastifyRequest) => string | undefined,
): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: true,
    max: (request) => (limitName(request) === 'login' ? settings.loginPerWindow : settings.apiPerWindow),
    timeWindow: settings.windowMs,
    cache: MAX_TRACKED_KEYS,
    allowList: (request) => !request.url.startsWith('/api/'),
    keyGenerator: (request) => {
      if (limitName(request) === 'login') return `login:${request.ip}`;
      const account = accountOf(request);
      return account === undefined ? `ip:${request.ip}` : `user:${account}`;
    },
    errorResponseBuilder: (request, context) =>
      new ApiError('rate_limited', `the ${limitName(request)} rate limit was exceeded; retry after ${context.after}`, {
        limit: limitName(request),
        max: context.max,
        windowMs: settings.windowMs,
        remaining: 0,
        resetSeconds: Math.ceil(context.ttl / 1000),
      }),
  });
}
