/**
 * How many refused frames one connection may send before the hub closes it. Every refusal costs the
 * hub a count, a dead letter (or a tally entry) and an ERROR answer; a few connections streaming small
 * malformed or forged frames made good devices wait seconds for their acknowledgements. A connection
 * that has not yet sent one authentic frame gets a small allowance (a real device's first frame is
 * authentic); after that, a per-second allowance generous enough for a device that resends a backlog
 * its key can no longer open.
 */
export interface RefusalBudgetLimits {
  /** Refusals allowed before the connection's first authentic frame. */
  readonly beforeAuthentic: number;
  /** Refusals allowed in any one-second window once a frame was authentic. */
  readonly perSecond: number;
}

export const DEFAULT_REFUSAL_BUDGET: RefusalBudgetLimits = { beforeAuthentic: 16, perSecond: 100 };

export class RefusalBudget {
  private authentic = false;
  private refusedBeforeAuthentic = 0;
  private windowStart = Number.NEGATIVE_INFINITY;
  private refusedInWindow = 0;

  constructor(
    private readonly limits: RefusalBudgetLimits = DEFAULT_REFUSAL_BUDGET,
    private readonly now: () => number = Date.now,
  ) {}

  /** The connection sent a frame the hub could open and verify. */
  noteAuthentic(): void {
    this.authentic = true;
  }

  /** Counts one refusal; false when the connection has now spent its budget and must be closed. */
  spend(): boolean {
    if (!this.authentic) {
      this.refusedBeforeAuthentic += 1;
      return this.refusedBeforeAuthentic <= this.limits.beforeAuthentic;
    }
    const at = this.now();
    if (at - this.windowStart >= 1000) {
      this.windowStart = at;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow += 1;
    return this.refusedInWindow <= this.limits.perSecond;
  }

  /** Why the connection is closed, for its ERROR frame and dead letter. */
  describe(): string {
    return this.authentic
      ? `more than ${this.limits.perSecond} refused frames in one second`
      : `more than ${this.limits.beforeAuthentic} refused frames before an authentic one`;
  }
}
