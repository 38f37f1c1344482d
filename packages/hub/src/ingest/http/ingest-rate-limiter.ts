/**
 * Per-sender rate limits of the HTTP ingest routes: a fixed window per device id (JSON routes) or key id
 * (sealed frames). Only AUTHENTICATED traffic is charged, so a forger who names a device cannot spend
 * that device's budget. The 429 answer has the same shape and headers as the API limits
 * (http/rate-limits.ts): `rate_limited` with { limit, max, windowMs, remaining, resetSeconds }, and
 * x-ratelimit-limit / -remaining / -reset and retry-after.
 *
 * Bound and overflow policy: at most `maxTracked` senders are tracked; when full, expired windows are
 * swept, and if still full the oldest tracked sender is forgotten (its window starts again). Senders
 * are authenticated ids, so the set is bounded by the keyring in practice.
 */
import type { FastifyReply } from 'fastify';
import { sendApiError } from '../../http/api-errors.js';

export interface IngestRateLimitSettings {
  /** Requests per device id (JSON routes) or key id (frames route) and window. */
  readonly perDevicePerWindow: number;
  readonly windowMs: number;
}

/** `ingest-device-nonces`: live signed-request nonces of one device (nonce-window.ts), not a request count. */
export type IngestLimitName = 'ingest-device' | 'ingest-key' | 'ingest-device-nonces';

export interface LimitState {
  readonly allowed: boolean;
  readonly max: number;
  readonly remaining: number;
  readonly resetMs: number;
}

const DEFAULT_MAX_TRACKED = 100_000;

interface Window {
  start: number;
  used: number;
}

export class IngestRateLimiter implements IngestLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly settings: IngestRateLimitSettings,
    private readonly now: () => number,
    private readonly maxTracked: number = DEFAULT_MAX_TRACKED,
  ) {
    if (!(settings.perDevicePerWindow >= 1) || !(settings.windowMs >= 1)) {
      throw new Error('ingest rate limit: perDevicePerWindow and windowMs must be at least 1');
    }
  }

  get windowMs(): number {
    return this.settings.windowMs;
  }

  /**
   * Whether one more unit would be allowed, without spending it (checked before work whose sender is not
   * yet authenticated; charged afterwards).
   */
  peek(key: string): LimitState {
    return this.state(this.current(key, false), 1);
  }

  /** Spends `cost` from the sender's window; refused (nothing spent) when that would exceed the limit. */
  take(key: string, cost = 1): LimitState {
    const window = this.current(key, true);
    if (window === undefined) return this.state(undefined, 0);
    const state = this.state(window, cost);
    if (state.allowed) window.used += cost;
    return { ...state, remaining: Math.max(0, this.settings.perDevicePerWindow - window.used) };
  }

  /** Charges `cost` unconditionally (after the fact, for work already done). */
  charge(key: string, cost: number): void {
    const window = this.current(key, true);
    if (window !== undefined) window.used += cost;
  }

  private current(key: string, create: boolean): Window | undefined {
    const at = this.now();
    let window = this.windows.get(key);
    if (window !== undefined && at - window.start >= this.settings.windowMs) {
      this.windows.delete(key);
      window = undefined;
    }
    if (window === undefined && create) {
      if (this.windows.size >= this.maxTracked) this.makeRoom(at);
      window = { start: at, used: 0 };
      this.windows.set(key, window);
    }
    return window;
  }

  private state(window: Window | undefined, cost: number): LimitState {
    const max = this.settings.perDevicePerWindow;
    const used = window?.used ?? 0;
    const resetMs = window === undefined ? this.settings.windowMs : window.start + this.settings.windowMs - this.now();
    return { allowed: used + cost <= max, max, remaining: Math.max(0, max - used), resetMs: Math.max(0, resetMs) };
  }

  private makeRoom(at: number): void {
    for (const [key, window] of this.windows) {
      if (at - window.start >= this.settings.windowMs) this.windows.delete(key);
    }
    if (this.windows.size < this.maxTracked) return;
    const oldest = this.windows.keys().next();
    if (!oldest.done) this.windows.delete(oldest.value);
  }
}

/** What the ingest routes need of a limiter: this one (in memory) or SharedIngestRateLimiter (all hubs). */
export interface IngestLimiter {
  readonly windowMs: number;
  peek(key: string): LimitState | Promise<LimitState>;
  take(key: string, cost?: number): LimitState | Promise<LimitState>;
  charge(key: string, cost: number): void;
}

/** x-ratelimit-* headers for an answer the limiter let through. */
export function setLimitHeaders(reply: FastifyReply, state: LimitState): void {
  reply.header('x-ratelimit-limit', state.max);
  reply.header('x-ratelimit-remaining', state.remaining);
  reply.header('x-ratelimit-reset', Math.ceil(state.resetMs / 1000));
}

/** The 429 answer, shaped like the API's own rate-limit refusals. */
export function sendRateLimited(
  reply: FastifyReply,
  limit: IngestLimitName,
  state: LimitState,
  windowMs: number,
): FastifyReply {
  const resetSeconds = Math.max(1, Math.ceil(state.resetMs / 1000));
  setLimitHeaders(reply, { ...state, remaining: 0 });
  reply.header('retry-after', resetSeconds);
  return sendApiError(reply, 'rate_limited', `the ${limit} rate limit was exceeded; retry after ${resetSeconds} s`, {
    limit,
    max: state.max,
    windowMs,
    remaining: 0,
    resetSeconds,
  });
}
