/** The tally of refusals over the dead-letter budget: grouped by device, reason and minute, and bounded. */
import { describe, expect, it } from 'vitest';
import { RefusalTally } from '../../src/pipeline/refusal-tally.js';

const MINUTE = 60_000;
const BASE = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('RefusalTally', () => {
  it('groups by device, reason and minute, and empties on take', () => {
    const tally = new RefusalTally();
    tally.add('a', 'integrity_failed', BASE + 1);
    tally.add('a', 'integrity_failed', BASE + 59_999);
    tally.add('a', 'integrity_failed', BASE + MINUTE);
    tally.add(null, 'unknown_key', BASE + 5);
    expect(tally.take()).toEqual([
      { device: 'a', reason: 'integrity_failed', receivedAt: BASE, count: 2 },
      { device: 'a', reason: 'integrity_failed', receivedAt: BASE + MINUTE, count: 1 },
      { device: null, reason: 'unknown_key', receivedAt: BASE, count: 1 },
    ]);
    expect(tally.take()).toEqual([]);
  });

  it('when full, counts new devices under the unknown device instead of growing', () => {
    const tally = new RefusalTally(3);
    for (let i = 0; i < 100; i += 1) tally.add(`dev-${i}`, 'schema_invalid', BASE);
    expect(tally.size).toBe(4); // three devices, then one entry for all the rest
    const taken = tally.take();
    expect(taken.reduce((n, t) => n + t.count, 0)).toBe(100);
    expect(taken.find((t) => t.device === null)).toEqual({
      device: null,
      reason: 'schema_invalid',
      receivedAt: BASE,
      count: 97,
    });
  });

  it('takes back counts whose commit did not happen', () => {
    const tally = new RefusalTally();
    tally.add('a', 'replayed_frame', BASE);
    const [taken] = tally.take();
    if (taken === undefined) throw new Error('expected a count');
    tally.add('a', 'replayed_frame', BASE + 10);
    tally.restore(taken);
    expect(tally.take()).toEqual([{ device: 'a', reason: 'replayed_frame', receivedAt: BASE, count: 2 }]);
  });
});
