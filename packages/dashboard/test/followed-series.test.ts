// Tests for the followed device's chart columns: field choice, oldest-first order, gaps.
import { describe, expect, it } from 'vitest';
import type { LiveReading } from '../src/contract.js';
import { followedSeries, MAX_SERIES } from '../src/followed-series.js';

const reading = (seq: number, data: Record<string, unknown>): LiveReading => ({
  device: 'a',
  seq,
  ts: seq * 1000,
  committedAt: seq * 1000,
  data,
});

describe('followedSeries', () => {
  it('charts numeric fields oldest first, with gaps where a reading lacks one', () => {
    const newestFirst = [reading(3, { t: 3, h: 30 }), reading(2, { t: 2, note: 'x' }), reading(1, { t: 1, h: 10 })];
    expect(followedSeries(newestFirst)).toEqual({
      names: ['t', 'h'],
      times: [1, 2, 3],
      columns: [
        [1, 2, 3],
        [10, null, 30],
      ],
    });
  });
  it(`keeps at most ${MAX_SERIES} fields and nothing for non-numeric readings`, () => {
    expect(followedSeries([reading(1, { a: 1, b: 2, c: 3, d: 4 })]).names).toEqual(['a', 'b', 'c']);
    expect(followedSeries([reading(1, { s: 'text' })]).names).toEqual([]);
  });
});
