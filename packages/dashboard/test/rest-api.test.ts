// Tests for the REST answer checks of /api/v1/stats and /api/v1/dead-letters.
import { describe, expect, it } from 'vitest';
import { parseDeadLetterPage, parseStats } from '../src/rest-api.js';

const goodStats = {
  totalReceived: 3,
  totalValid: 2,
  totalInvalid: 1,
  totalDuplicate: 0,
  successRate: 66.67,
  readingsPerSec: 0.4,
  rejectsPerSec: 0.2,
  rejectsByReason: { bad_payload: 1 },
  at: 1_700_000_000_000,
};

const goodItem = {
  id: '1',
  reason: 'bad_payload',
  source: 'tcp',
  peer: '127.0.0.1:4000',
  device: null,
  detail: 'not JSON',
  receivedAt: 1_700_000_000_000,
  rawHex: 'deadbeef',
  truncated: false,
};

describe('parseStats', () => {
  it('accepts a LiveStats body', () => {
    expect(parseStats(goodStats)).toEqual(goodStats);
  });
  it('refuses bodies with a missing or non-numeric counter', () => {
    expect(parseStats({ ...goodStats, totalValid: '2' })).toBeNull();
    const { at: _at, ...withoutAt } = goodStats;
    expect(parseStats(withoutAt)).toBeNull();
    expect(parseStats({ ...goodStats, rejectsByReason: { bad_payload: 'x' } })).toBeNull();
    expect(parseStats([goodStats])).toBeNull();
    expect(parseStats(null)).toBeNull();
  });
});

describe('parseDeadLetterPage', () => {
  it('keeps well-formed items and skips malformed ones', () => {
    const items = parseDeadLetterPage({ items: [goodItem, { ...goodItem, receivedAt: 'yesterday' }, 42] });
    expect(items).toEqual([goodItem]);
  });
  it('refuses a body without an items array', () => {
    expect(parseDeadLetterPage({ items: 'none' })).toBeNull();
    expect(parseDeadLetterPage([goodItem])).toBeNull();
  });
});
