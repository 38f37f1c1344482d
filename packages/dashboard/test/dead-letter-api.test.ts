// Tests for dead-letter answers: redrive verdicts and the list query string.
import { describe, expect, it } from 'vitest';
import { parseRedriveAnswer } from '../src/api/dead-letter-api.js';
import { deadLetterPath, parseDeadLetterPageAnswer } from '../src/rest-api.js';

describe('parseRedriveAnswer', () => {
  it('reads the outcome and counts, and refuses unknown outcomes', () => {
    expect(
      parseRedriveAnswer({ outcome: 'refused', accepted: 0, duplicates: 0, rejected: 1, reason: 'integrity_failed' }),
    ).toMatchObject({ outcome: 'refused', rejected: 1, reason: 'integrity_failed', detail: null });
    expect(parseRedriveAnswer({ outcome: 'maybe' })).toBeNull();
  });
});

describe('dead-letter list', () => {
  it('puts only the filters that are set in the query string', () => {
    expect(deadLetterPath({})).toBe('/api/v1/dead-letters?limit=50');
    expect(deadLetterPath({ limit: 10, reason: 'bad_payload', device: 'a b', from: 12.7, cursor: 'c' })).toBe(
      '/api/v1/dead-letters?limit=10&reason=bad_payload&device=a+b&from=12&cursor=c',
    );
  });
  it('keeps the cursor and accepts items with re-drive fields', () => {
    const item = {
      id: '1',
      reason: 'bad_payload',
      source: 'tcp',
      peer: '',
      device: null,
      detail: '',
      receivedAt: 1,
      rawHex: '',
      truncated: false,
      redrivenAt: 5,
      redriveOutcome: 'refused',
    };
    expect(parseDeadLetterPageAnswer({ items: [item], nextCursor: 'n' })).toEqual({ items: [item], nextCursor: 'n' });
  });
});
