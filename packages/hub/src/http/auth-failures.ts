/**
 * A per-address budget for failed API-key checks. A presented API key costs a store lookup, and random
 * keys each look like a new caller to the request limiter, so failures are counted per client address
 * and, over the budget, refused before the lookup. Bounded: at most MAX_TRACKED addresses; when full,
 * the tracker starts over (an attacker regains one window's budget, memory never grows).
 */
import { ApiError } from './api-errors.js';

const MAX_TRACKED = 10_000;

export class AuthFailureBudget {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly maxPerWindow: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws 429 `rate_limited` (limit `auth-failures`) when the address used up its failures. */
  check(address: string): void {
    const entry = this.current(address);
    if (entry !== undefined && entry.count >= this.maxPerWindow) {
      throw new ApiError('rate_limited', 'too many failed API-key checks from this address', {
        limit: 'auth-failures',
        max: this.maxPerWindow,
        windowMs: this.windowMs,
        remaining: 0,
        resetSeconds: Math.ceil((entry.resetAt - this.now()) / 1000),
      });
    }
  }

  record(address: string): void {
    const entry = this.current(address);
    if (entry !== undefined) {
      entry.count += 1;
      return;
    }
    if (this.failures.size >= MAX_TRACKED) this.failures.clear();
    this.failures.set(address, { count: 1, resetAt: this.now() + this.windowMs });
  }

  private current(address: string): { count: number; resetAt: number } | undefined {
    const entry = this.failures.get(address);
    if (entry === undefined) return undefined;
    if (entry.resetAt <= this.now()) {
      this.failures.delete(address);
      return undefined;
    }
    return entry;
  }
}
