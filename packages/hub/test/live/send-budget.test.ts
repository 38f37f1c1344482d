/**
 * The live fan-out's send budget: sends within their share of the event loop never wait, expensive
 * sends space out (never beyond the tick), and one send stretched by a pause that is not its own does
 * not hold the next ones back.
 */
import { describe, expect, it } from 'vitest';
import { SendBudget } from '../../src/live/send-budget.js';

const OPTIONS = { share: 0.1, burstMs: 2, maxWaitMs: 50, outlierFactor: 2 };

/** Sends of `costMs` every `everyMs` for `count` sends; returns the waits asked for before each. */
function run(budget: SendBudget, costMs: number, everyMs: number, count: number, from = 0): number[] {
  const waits: number[] = [];
  let now = from;
  for (let i = 0; i < count; i += 1) {
    const wait = budget.waitMs(now);
    waits.push(wait);
    now += wait;
    budget.spent(now, now + costMs);
    now += Math.max(everyMs, costMs);
  }
  return waits;
}

describe('SendBudget', () => {
  it('never delays sends whose cost fits the share, even one per millisecond', () => {
    // 0.08 ms per 1 ms = 8 % < 10 %: the debt never passes the burst allowance.
    expect(run(new SendBudget(OPTIONS), 0.08, 1, 10_000).every((wait) => wait === 0)).toBe(true);
  });

  it('lets a burst through, then spaces expensive sends to the share', () => {
    const waits = run(new SendBudget(OPTIONS), 1, 1, 200);
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBe(0); // within the 2 ms burst allowance
    // Steady state: a 1 ms send per 10 ms of loop time (cost / share), i.e. ~9 ms of wait after each.
    const steady = waits.slice(100);
    for (const wait of steady) expect(wait).toBeGreaterThan(8);
    for (const wait of steady) expect(wait).toBeLessThanOrEqual(10);
  });

  it('never asks a send to wait longer than maxWaitMs', () => {
    const waits = run(new SendBudget(OPTIONS), 30, 1, 50);
    expect(Math.max(...waits)).toBe(OPTIONS.maxWaitMs);
  });

  it('counts one stretched send at most twice the recent average plus 1 ms', () => {
    const budget = new SendBudget(OPTIONS);
    let now = run(budget, 0.2, 5, 100).length * 5;
    // A GC pause stretches one send to 9 ms: it counts as ~1.4 ms, so the next send waits not at all.
    budget.spent(now, now + 9);
    now += 9;
    expect(budget.waitMs(now + 1)).toBe(0);
    // Unclamped it would have owed (9 - 2) / 0.1 = 70 ms, capped at the tick.
    const unclamped = new SendBudget({ ...OPTIONS, outlierFactor: Number.POSITIVE_INFINITY });
    let then = run(unclamped, 0.2, 5, 100).length * 5;
    unclamped.spent(then, then + 9);
    then += 9;
    expect(unclamped.waitMs(then + 1)).toBeGreaterThan(40);
  });

  it('pays the debt off over time: after a quiet spell a send goes at once', () => {
    const budget = new SendBudget(OPTIONS);
    run(budget, 5, 1, 10);
    expect(budget.waitMs(60)).toBeGreaterThan(0);
    expect(budget.waitMs(10_000)).toBe(0);
  });
});
