/**
 * The stats an api node shows (GET /api/v1/stats, the live `stats` / `stats:update`): totals read from
 * PostgreSQL at start, then moved by each commit notice (the readings a commit made new, its dead
 * letters and refusal counts: exactly what the database's totals grew by), and read again every
 * TOTALS_RESYNC_MS so notices this node never saw (its feed queue dropped the oldest while it lagged,
 * a reconnect, a batch a writer gave up on) cannot leave it off for long. Re-reading on every notice
 * would sum the whole rollup table several times a second per node. Rates come from the notices (a
 * StatsTracker). Duplicates are not stored, so an api node counts none.
 */
import { isReasonCode, type LiveStats, type ReasonCode } from '@sealstream/protocol';
import type { CommitBatch, ReadingStore } from '../../pipeline/ports.js';
import { StatsTracker, type RatePoint } from '../../pipeline/stats-tracker.js';

export const TOTALS_RESYNC_MS = 5_000;

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
    this.timer = setInterval(() => void this.refresh(), TOTALS_RESYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A commit notice: what it made new moves the totals and the rates. */
  noticed(batch: CommitBatch): void {
    this.tracker.addValid(batch.readings.length);
    this.valid += batch.readings.length;
    for (const letter of batch.deadLetters) this.invalidOf(letter.reason, 1);
    for (const count of batch.refusalCounts ?? []) this.invalidOf(count.reason, count.count);
  }

  private invalidOf(reason: ReasonCode, count: number): void {
    this.tracker.addInvalid(reason, count);
    this.invalid += count;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + count;
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

  /**
   * Reads the totals again (one read at a time; one asked for meanwhile runs once after it). Notices
   * that arrive while it runs may or may not be in its answer; the next read settles them.
   */
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
