/**
 * Running totals and rates for the live view and the stats API: received, valid, invalid, duplicate,
 * success rate, and per-second rates over a short sliding window. Valid, invalid and per-reason totals
 * are seeded from the store at start, so they survive restarts; duplicates are not stored, so their
 * total (and received, which includes it) counts from this process's start. Bounded: a fixed ring of
 * one-second slots, long enough to answer the rates of the last RATE_HISTORY_SECONDS as well, so a
 * dashboard opened now draws the same throughput line it would have drawn had it been open.
 */
import { isReasonCode, type LiveStats, type ReasonCode } from '@sealstream/protocol';

const RATE_WINDOW_SECONDS = 5;
/** Seconds of rate history kept (the dashboard's throughput chart shows five minutes). */
export const RATE_HISTORY_SECONDS = 300;

/** The rates a `stats` snapshot taken at `at` reported (same sliding window). */
export interface RatePoint {
  readonly at: number;
  readonly readingsPerSec: number;
  readonly rejectsPerSec: number;
}

export class StatsTracker {
  private valid = 0;
  private invalid = 0;
  private duplicate = 0;
  private readonly byReason: Partial<Record<ReasonCode, number>> = {};
  private readonly slots: Array<{ second: number; valid: number; invalid: number }> = [];

  private readonly startSecond: number;

  constructor(private readonly now: () => number = Date.now) {
    for (let i = 0; i < RATE_HISTORY_SECONDS + RATE_WINDOW_SECONDS + 1; i += 1) {
      this.slots.push({ second: -1, valid: 0, invalid: 0 });
    }
    this.startSecond = Math.floor(now() / 1000);
  }

  /** Per-reason counts are seeded only for reason codes this build knows; others are old rows' names. */
  seed(totals: { valid: number; invalid: number }, byReason: Partial<Record<string, number>> = {}): void {
    this.valid += totals.valid;
    this.invalid += totals.invalid;
    for (const [reason, count] of Object.entries(byReason)) {
      if (count === undefined || !isReasonCode(reason)) continue;
      this.byReason[reason] = (this.byReason[reason] ?? 0) + count;
    }
  }

  addValid(count: number): void {
    this.valid += count;
    this.slot().valid += count;
  }

  addDuplicate(count: number): void {
    this.duplicate += count;
  }

  addInvalid(reason: ReasonCode, count = 1): void {
    this.invalid += count;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + count;
    this.slot().invalid += count;
  }

  snapshot(): LiveStats {
    const received = this.valid + this.invalid + this.duplicate;
    const { valid, invalid } = this.windowEndingAt(Math.floor(this.now() / 1000));
    return {
      totalReceived: received,
      totalValid: this.valid,
      totalInvalid: this.invalid,
      totalDuplicate: this.duplicate,
      successRate: received === 0 ? 100 : Math.round((this.valid / received) * 10_000) / 100,
      readingsPerSec: valid / RATE_WINDOW_SECONDS,
      rejectsPerSec: invalid / RATE_WINDOW_SECONDS,
      rejectsByReason: { ...this.byReason },
      at: this.now(),
    };
  }

  /**
   * One point per second for the last RATE_HISTORY_SECONDS (only since this tracker started), each the
   * rates a snapshot at the start of that second reported; oldest first.
   */
  rateHistory(): RatePoint[] {
    const nowSecond = Math.floor(this.now() / 1000);
    const first = Math.max(nowSecond - RATE_HISTORY_SECONDS + 1, this.startSecond + 1);
    const points: RatePoint[] = [];
    for (let second = first; second <= nowSecond; second += 1) {
      const { valid, invalid } = this.windowEndingAt(second);
      points.push({
        at: second * 1000,
        readingsPerSec: valid / RATE_WINDOW_SECONDS,
        rejectsPerSec: invalid / RATE_WINDOW_SECONDS,
      });
    }
    return points;
  }

  /** Counts of the completed seconds before `second` in the rate window (the current one is still filling). */
  private windowEndingAt(second: number): { valid: number; invalid: number } {
    let valid = 0;
    let invalid = 0;
    for (let s = second - RATE_WINDOW_SECONDS; s < second; s += 1) {
      const slot = this.slots[s % this.slots.length];
      if (slot !== undefined && slot.second === s) {
        valid += slot.valid;
        invalid += slot.invalid;
      }
    }
    return { valid, invalid };
  }

  private slot(): { second: number; valid: number; invalid: number } {
    const second = Math.floor(this.now() / 1000);
    const slot = this.slots[second % this.slots.length];
    if (slot === undefined) throw new Error('unreachable: slot index in range');
    if (slot.second !== second) {
      slot.second = second;
      slot.valid = 0;
      slot.invalid = 0;
    }
    return slot;
  }
}
