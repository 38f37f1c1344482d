/**
 * Running totals and rates for the live view and the stats API: received, valid, invalid, duplicate,
 * success rate, and per-second rates over a short sliding window. Valid, invalid and per-reason totals
 * are seeded from the store at start, so they survive restarts; duplicates are not stored, so their
 * total (and received, which includes it) counts from this process's start. Bounded: a fixed ring of
 * one-second slots.
 */
import { isReasonCode, type LiveStats, type ReasonCode } from '@sealstream/protocol';

const RATE_WINDOW_SECONDS = 5;

export class StatsTracker {
  private valid = 0;
  private invalid = 0;
  private duplicate = 0;
  private readonly byReason: Partial<Record<ReasonCode, number>> = {};
  private readonly slots: Array<{ second: number; valid: number; invalid: number }> = [];

  constructor(private readonly now: () => number = Date.now) {
    for (let i = 0; i < RATE_WINDOW_SECONDS + 1; i += 1) this.slots.push({ second: -1, valid: 0, invalid: 0 });
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
    const nowSecond = Math.floor(this.now() / 1000);
    let valid = 0;
    let invalid = 0;
    // The current second is still filling; rate over the completed seconds of the window.
    for (const slot of this.slots) {
      if (slot.second < nowSecond && slot.second >= nowSecond - RATE_WINDOW_SECONDS) {
        valid += slot.valid;
        invalid += slot.invalid;
      }
    }
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
