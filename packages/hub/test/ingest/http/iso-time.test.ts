import { describe, expect, it } from 'vitest';
import { isoTimeToMs } from '../../../src/ingest/http/iso-time.js';

describe('isoTimeToMs', () => {
  it('reads ISO times with and without seconds, fraction and offset', () => {
    expect(isoTimeToMs('2026-11-23T10:38:45.123Z')).toBe(Date.UTC(2026, 10, 23, 10, 38, 45, 123));
    expect(isoTimeToMs('2026-11-23T10:38Z')).toBe(Date.UTC(2026, 10, 23, 10, 38));
    expect(isoTimeToMs('2028-02-29T00:00:00+02:00')).toBe(Date.UTC(2028, 1, 28, 22, 0));
    expect(isoTimeToMs('2026-12-31T23:59:59-05:30')).toBe(Date.UTC(2027, 0, 1, 5, 29, 59));
  });

  it('refuses impossible dates and clock times instead of rolling them over', () => {
    for (const text of [
      '2026-11-31T10:00:00Z',
      '2026-02-29T10:00:00Z',
      '2026-13-01T10:00:00Z',
      '2026-00-10T10:00:00Z',
      '2026-12-00T10:00:00Z',
      '2026-12-01T24:00:00Z',
      '2026-12-01T10:60:00Z',
      '2026-12-01T10:00:60Z',
      '2026-12-01T10:00:00+24:00',
      '2026-12-01T10:00:00+01:60',
      '2026-12-01 10:00:00Z',
      'yesterday-ish',
    ]) {
      expect(isoTimeToMs(text), text).toBeNull();
    }
  });
});
