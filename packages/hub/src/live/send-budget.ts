/**
 * How much of the event loop the live fan-out's data sends may take, and so when the next one may run.
 * Kept as a debt: every send adds what it measurably cost, the debt is paid off at `share` ms per ms,
 * and a send waits only while the debt exceeds a burst allowance, never longer than `maxWaitMs`. One
 * subscriber's sends cost ~0.1–0.3 ms, well within 10 % even at a send per commit, so readings follow
 * their commit at once; hundreds of clients make sends expensive, the debt builds up, and sends space
 * out towards `maxWaitMs` (the tick), bounding the fan-out's CPU. A send stretched by a pause that is
 * not its own (a GC, the process waiting for a core) counts at most `outlierFactor` times the recent
 * average plus 1 ms: unclamped, one 9 ms send held the next ones for ~40 ms.
 */

export interface SendBudgetOptions {
  /** Share of the event loop data sends may take (0..1]. */
  readonly share: number;
  /** Send time allowed ahead of the share before sends wait, ms. */
  readonly burstMs: number;
  /** Longest a send waits, ms. */
  readonly maxWaitMs: number;
  /** A send counts at most this many times the recent average, plus 1 ms. */
  readonly outlierFactor: number;
}

export class SendBudget {
  private debtMs = 0;
  private debtAt = 0;
  /** Moving average of what a send counted (outliers clamped), ms; 0 before the first send. */
  private averageMs = 0;

  constructor(private readonly options: SendBudgetOptions) {}

  /** How long new data should wait at `now` before it is sent (0: at once). */
  waitMs(now: number): number {
    const over = this.debtAt_(now) - this.options.burstMs;
    return over <= 0 ? 0 : Math.min(this.options.maxWaitMs, over / this.options.share);
  }

  /** A data send ran from `startedAt` to `endedAt` (same clock as waitMs). */
  spent(startedAt: number, endedAt: number): void {
    const cost = Math.max(0, endedAt - startedAt);
    const counted = this.averageMs === 0 ? cost : Math.min(cost, this.options.outlierFactor * this.averageMs + 1);
    this.averageMs = this.averageMs === 0 ? counted : 0.8 * this.averageMs + 0.2 * counted;
    this.debtMs = this.debtAt_(endedAt) + counted;
  }

  /** The debt at `now`, after paying off what the share earned since it was last computed. */
  private debtAt_(now: number): number {
    const debt = Math.max(0, this.debtMs - (now - this.debtAt) * this.options.share);
    this.debtMs = debt;
    this.debtAt = now;
    return debt;
  }
}
