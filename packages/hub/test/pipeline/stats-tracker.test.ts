/** StatsTracker's rate history: what a dashboard opened now draws for the last five minutes. */
import { describe, expect, it } from 'vitest';
import { RATE_HISTORY_SECONDS, StatsTracker } from '../../src/pipeline/stats-tracker.js';

describe('StatsTracker.rateHistory', () => {
  it('answers, once a second, the rates each stats snapshot of that second reported', () => {
    let now = 1_000_000_000_000;
    const tracker = new StatsTracker(() => now);
    const reported: Array<{ at: number; readingsPerSec: number; rejectsPerSec: number }> = [];
    for (let second = 1; second <= 20; second += 1) {
      now += 1000;
      // 10 readings a second, 1 reject every other second, then a quiet stretch.
      if (second <= 12) tracker.addValid(10);
      if (second <= 12 && second % 2 === 0) tracker.addInvalid('integrity_failed');
      const snapshot = tracker.snapshot();
      reported.push({ at: now, readingsPerSec: snapshot.readingsPerSec, rejectsPerSec: snapshot.rejectsPerSec });
    }
    const history = tracker.rateHistory();
    // One point per second since the tracker started, ending now; the same numbers the live feed sent.
    expect(history.map((point) => point.at)).toEqual(reported.map((point) => point.at));
    expect(history).toEqual(reported);
    expect(history.some((point) => point.readingsPerSec === 10)).toBe(true);
    expect(history.at(-1)?.readingsPerSec).toBe(0);
  });

  it('keeps only the last five minutes', () => {
    let now = 1_000_000_000_000;
    const tracker = new StatsTracker(() => now);
    for (let second = 0; second < 400; second += 1) {
      now += 1000;
      tracker.addValid(5);
    }
    const history = tracker.rateHistory();
    expect(history).toHaveLength(RATE_HISTORY_SECONDS);
    expect(history[0]?.at).toBe(now - (RATE_HISTORY_SECONDS - 1) * 1000);
    expect(history.every((point) => point.readingsPerSec === 5)).toBe(true);
  });
});
