/**
 * Reconnect delays: exponential from `initialMs` to `maxMs`, with jitter so a fleet that lost its hub
 * at the same moment does not reconnect in lockstep.
 */
export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
  /**
   * Fraction of each delay that is random, 0..1: the delay is drawn from [ceiling × (1 − jitter), ceiling].
   * 0 gives plain exponential backoff, 1 "full jitter". Default 0.5.
   */
  readonly jitter?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = Math.max(1, options.initialMs ?? 100);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 5000);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling * (1 - this.jitter) + this.random() * ceiling * this.jitter);
  }

  reset(): void {
    this.attempt = 0;
  }
}
