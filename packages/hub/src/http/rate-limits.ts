/**
 * Request rate limits for the API (in memory, per hub process): `login` per client address on the login
 * route; on every other route of the API plugin `user` per account, `api-key` per API key, and `address` per client
 * address for calls without a valid credential. Ingest routes have their own per-device limits. The
 * limiter is an onRequest hook of the API plugin's scope, so it runs before any route's authentication hook: calls that
 * fail authentication are counted too.
 * A refusal is 429 `rate_limited` whose details name the limit, its window, what remains and when it
 * resets; the same numbers are in the x-ratelimit-* and retry-after headers.
 *
 * With shared state (Redis, several hubs) every limit is counted across all hubs (shared-rate-store.ts),
 * with the same answers. While the shared store is away, `login` fails closed (503 state_unavailable:
 * spreading password guesses over nodes must not buy more guesses) and the other limits fall back to
 * this process's own counters (each node then enforces the limit alone, so the cluster admits at most
 * nodes x limit): the API stays readable through a Redis outage, and no limit is ever off.
 */
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SharedWindowCounter } from '../pipeline/shared-state-ports.js';
import { ApiError } from './api-errors.js';
import { API_PREFIX } from './api-schemas.js';
import { sharedRateStore } from './shared-rate-store.js';

export interface RateLimitSettings {
  /** Requests per window and account (or address) on API routes other than login. */
  readonly apiPerWindow: number;
  /** Requests per window and API key; default apiPerWindow. */
  readonly apiKeyPerWindow?: number;
  /** Login attempts per window and client address. */
  readonly loginPerWindow: number;
  readonly windowMs: number;
}

/** The full route (Fastify reports a route's url with its plugin prefix). */
export const LOGIN_ROUTE = `${API_PREFIX}/auth/login`;
/** Bounds the per-key counters kept in memory; the least recently used keys are dropped beyond it. */
const MAX_TRACKED_KEYS = 100_000;

export type LimitName = 'login' | 'user' | 'api-key' | 'address';
type Subject = { kind: 'user' | 'api-key'; id: string } | undefined;

/** Registers the limiter; must run before the routes it limits are added. */
export async function registerRateLimits(
  app: FastifyInstance,
  settings: RateLimitSettings,
  subjectOf: (request: FastifyRequest) => Subject,
  shared?: { readonly counter: SharedWindowCounter; readonly onFallback?: () => void },
): Promise<void> {
  // Registered inside the API plugin: its hook below limits exactly that plugin's routes. Ingest routes
  // live in a sibling scope with their own per-device limits, so no URL test decides what is limited.
  // The subject is worked out once per request: the key generator and the error builder both need it.
  const subjects = new WeakMap<FastifyRequest, Subject>();
  const subject = (request: FastifyRequest): Subject => {
    if (!subjects.has(request)) subjects.set(request, subjectOf(request));
    return subjects.get(request);
  };
  const limitName = (request: FastifyRequest): LimitName => {
    if (request.routeOptions.url === LOGIN_ROUTE) return 'login';
    const who = subject(request);
    return who === undefined ? 'address' : who.kind === 'user' ? 'user' : 'api-key';
  };
  const maxOf = (name: LimitName): number =>
    name === 'login'
      ? settings.loginPerWindow
      : name === 'api-key'
        ? (settings.apiKeyPerWindow ?? settings.apiPerWindow)
        : settings.apiPerWindow;
  await app.register(fastifyRateLimit, {
    // Not per route (route hooks would run after the auth hook, so refused calls would never count):
    // one scope-level hook below.
    global: false,
    max: (request) => maxOf(limitName(request)),
    timeWindow: settings.windowMs,
    cache: MAX_TRACKED_KEYS,
    ...(shared === undefined
      ? {}
      : {
          store: sharedRateStore(shared.counter, {
            maxTracked: MAX_TRACKED_KEYS,
            failsClosed: (key) => key.startsWith('login:'),
            ...(shared.onFallback === undefined ? {} : { onFallback: shared.onFallback }),
          }),
        }),
    keyGenerator: (request) => {
      const name = limitName(request);
      if (name === 'login' || name === 'address') return `${name}:${request.ip}`;
      return `${name}:${subject(request)?.id ?? request.ip}`;
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
  app.addHook('onRequest', app.rateLimit());
}
