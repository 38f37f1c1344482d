/**
 * A per-address budget for failed API-key checks. A presented API key costs a store lookup, and random
 * keys each look like a new caller to the request limiter, so failures are counted per client address
 * and, over the budget, refused before the lookup. Bounded: at most MAX_TRACKED addresses; when full,
 * the tracker starts over (an attacker regains one window's budget, memory never grows).
 * With shared state (Redis) the failures are counted across every hub, so spreading guesses over api
 * nodes buys nothing; while the shared store is away the check fails closed (StateUnavailableError: API
 * keys are refused 503, tokens still work).
 */
import type { SharedWindowCounter } from '../pipeline/shared-state-ports.js';
import { ApiError } from './api-errors.js';

const MAX_TRACKED = 10_000;

export class AuthFailureBudget {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly maxPerWindow: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedWindowCounter,
  ) {}

  /** Throws 429 `rate_limited` (limit `auth-failures`) when the address used up its failures. */
  async check(address: string): Promise<void> {
    const entry = this.shared === undefined ? this.current(address) : await this.sharedEntry(address);
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

  async record(address: string): Promise<void> {
    if (this.shared !== undefined) {
      // A failure that cannot be counted is not lost for long: the next check fails closed while it lasts.
      await this.shared.hit(address, this.windowMs).catch(() => undefined);
      return;
    }
    const entry = this.current(address);
    if (entry !== undefined) {
      entry.count += 1;
      return;
    }
    if (this.failures.size >= MAX_TRACKED) this.failures.clear();
    this.failures.set(address, { count: 1, resetAt: this.now() + this.windowMs });
  }

  private async sharedEntry(address: string): Promise<{ count: number; resetAt: number } | undefined> {
    const { count, resetInMs } = await (this.shared as SharedWindowCounter).read(address);
    return count === 0 ? undefined : { count, resetAt: this.now() + resetInMs };
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
