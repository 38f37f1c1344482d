/**
 * The per-device (and per-key) limits of HTTP ingest counted across every hub (SharedWindowCounter,
 * Redis), with the same semantics and answers as IngestRateLimiter: `peek` before work, `take` to spend,
 * `charge` after the fact. While the shared counter cannot answer, each call falls back to this hub's own
 * limiter (the limit then holds per node; readings stay protected by their own checks) rather than
 * refusing device traffic for want of a counter.
 */
import type { SharedWindowCounter } from '../../pipeline/shared-state-ports.js';
import type { IngestLimiter, IngestRateLimiter, IngestRateLimitSettings, LimitState } from './ingest-rate-limiter.js';

export class SharedIngestRateLimiter implements IngestLimiter {
  constructor(
    private readonly settings: IngestRateLimitSettings,
    private readonly shared: SharedWindowCounter,
    private readonly local: IngestRateLimiter,
    private readonly onFallback: () => void = () => undefined,
  ) {}

  get windowMs(): number {
    return this.settings.windowMs;
  }

  async peek(key: string): Promise<LimitState> {
    try {
      const { count, resetInMs } = await this.shared.read(key);
      return this.state(count + 1 <= this.settings.perDevicePerWindow, count, resetInMs);
    } catch {
      this.onFallback();
      return this.local.peek(key);
    }
  }

  async take(key: string, cost = 1): Promise<LimitState> {
    try {
      const taken = await this.shared.take(key, this.settings.windowMs, cost, this.settings.perDevicePerWindow);
      return this.state(taken.allowed, taken.count, taken.resetInMs);
    } catch {
      this.onFallback();
      return this.local.take(key, cost);
    }
  }

  charge(key: string, cost: number): void {
    this.shared.hit(key, this.settings.windowMs, cost).catch(() => {
      this.onFallback();
      this.local.charge(key, cost);
    });
  }

  private state(allowed: boolean, used: number, resetInMs: number): LimitState {
    const max = this.settings.perDevicePerWindow;
    return {
      allowed,
      max,
      remaining: Math.max(0, max - used),
      resetMs: resetInMs > 0 ? resetInMs : this.settings.windowMs,
    };
  }
}
