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

  it('reads toISOString output (the digit-by-digit path) exactly as Date does, leap days included', () => {
    let ms = Date.UTC(1970, 0, 1);
    const step = 7_919_993_101; // about 92 days and an odd ms: every month, day and clock field moves
    for (let i = 0; i < 5_000; i += 1, ms += step) {
      const text = new Date(ms).toISOString();
      expect(isoTimeToMs(text), text).toBe(ms);
    }
    expect(isoTimeToMs('2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(isoTimeToMs('2000-02-29T00:00:00.000Z')).toBe(Date.UTC(2000, 1, 29));
    expect(isoTimeToMs('0099-01-01T00:00:00.000Z')).toBe(Date.parse('0099-01-01T00:00:00.000Z'));
    for (const text of [
      '2100-02-29T00:00:00.000Z',
      '2026-02-29T00:00:00.000Z',
      '2026-04-31T00:00:00.000Z',
      '2026-12-01T24:00:00.000Z',
      '2026-12-01T10:00:60.000Z',
      '2026-1a-01T10:00:00.000Z',
      '2026-12-01T10:00:00.000z',
    ]) {
      expect(isoTimeToMs(text), text).toBeNull();
    }
  });
});
