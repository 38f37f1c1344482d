/**
 * The stats an api node shows (GET /api/v1/stats, the live `stats` / `stats:update`): totals read from
 * PostgreSQL, so every api node shows the database's numbers whoever committed them, refreshed every
 * second and after each batch of commit notices (one query in flight at most, one more queued); rates
 * from the commit notices this node received (a StatsTracker). Duplicates are not stored, so an api
 * node counts none.
 */
import { isReasonCode, type LiveStats, type ReasonCode } from '@sealstream/protocol';
import type { CommitBatch, ReadingStore } from '../../pipeline/ports.js';
import { StatsTracker, type RatePoint } from '../../pipeline/stats-tracker.js';

export const TOTALS_REFRESH_MS = 1_000;

export class ApiStats {
  private readonly tracker = new StatsTracker();
  private valid = 0;
  private invalid = 0;
  private byReason: Partial<Record<ReasonCode, number>> = {};
  private inFlight: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<ReadingStore, 'totals' | 'rejectTotals'>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** First totals (the caller waits for them), then the refresh timer. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), TOTALS_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A batch of commit notices: counted in the rates, and the totals read again. */
  noticed(batch: CommitBatch): void {
    this.tracker.addValid(batch.readings.length);
    for (const letter of batch.deadLetters) this.tracker.addInvalid(letter.reason);
    for (const count of batch.refusalCounts ?? []) this.tracker.addInvalid(count.reason, count.count);
    void this.refresh();
  }

  snapshot(): LiveStats {
    const rates = this.tracker.snapshot();
    const received = this.valid + this.invalid;
    return {
      ...rates,
      totalReceived: received,
      totalValid: this.valid,
      totalInvalid: this.invalid,
      totalDuplicate: 0,
      successRate: received === 0 ? 100 : Math.round((this.valid / received) * 10_000) / 100,
      rejectsByReason: { ...this.byReason },
    };
  }

  rateHistory(): RatePoint[] {
    return this.tracker.rateHistory();
  }

  /** One read at a time; a refresh asked for meanwhile runs once after it (it may see newer commits). */
  refresh(): Promise<void> {
    if (this.inFlight !== undefined) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.again = false;
        try {
          const [totals, byReason] = await Promise.all([this.store.totals(), this.store.rejectTotals()]);
          this.valid = totals.valid;
          this.invalid = totals.invalid;
          // Reason codes this build knows; others are old rows' names (as StatsTracker.seed does).
          const known: Partial<Record<ReasonCode, number>> = {};
          for (const [reason, count] of Object.entries(byReason)) {
            if (count !== undefined && isReasonCode(reason)) known[reason] = count;
          }
          this.byReason = known;
        } catch (error) {
          this.onError(error); // the last totals stay shown
        }
      } while (this.again);
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }
}
