// Tests for DeviceRegistry: latest reading per device, LRU bound, trend bound, stable row identity.
import { describe, expect, it } from 'vitest';
import type { LiveReading } from '../src/contract.js';
import { DeviceRegistry, numericMetrics } from '../src/device-registry.js';

const reading = (device: string, seq: number, data: Record<string, unknown> = { temp: seq }): LiveReading => ({
  device,
  seq,
  ts: 1_000 + seq,
  committedAt: 2_000 + seq,
  data,
});

describe('numericMetrics', () => {
  it('keeps finite numbers in send order and skips everything else', () => {
    expect(numericMetrics({ b: 2, s: 'x', a: 1, n: null, inf: Infinity, o: { x: 1 } })).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
  });
});

describe('DeviceRegistry', () => {
  it('keeps the latest reading per device, sorted by id with numbers in order', () => {
    const registry = new DeviceRegistry();
    registry.record(reading('dev-10', 1), 1);
    registry.record(reading('dev-2', 1), 1);
    registry.record(reading('dev-2', 2, { temp: 21.5, hum: 40 }), 2);
    const rows = registry.rows();
    expect(rows.map((row) => row.id)).toEqual(['dev-2', 'dev-10']);
    expect(rows[0]).toMatchObject({ seq: 2, ts: 1_002, lastSeenAt: 2, trendMetric: 'temp' });
    expect(rows[0]?.metrics).toEqual([
      ['temp', 21.5],
      ['hum', 40],
    ]);
    expect(rows[0]?.trend).toEqual([1, 21.5]);
  });

  it("keeps a legacy device's text fields (name, origin, destination) to show instead of numbers", () => {
    const registry = new DeviceRegistry();
    registry.record(reading('legacy', 1, { name: 'Jack Reacher', origin: 'Bengaluru', destination: 'Mumbai' }), 1);
    registry.record(reading('dev-1', 1, { temp: 21.5, label: 'x' }), 1);
    const [legacy, numeric] = [
      registry.rows().find((r) => r.id === 'legacy'),
      registry.rows().find((r) => r.id === 'dev-1'),
    ];
    expect(legacy?.metrics).toEqual([]);
    expect(legacy?.texts).toEqual([
      ['name', 'Jack Reacher'],
      ['origin', 'Bengaluru'],
      ['destination', 'Mumbai'],
    ]);
    // A device with numbers shows its numbers.
    expect(numeric?.texts).toEqual([]);
  });

  it('evicts the least recently seen device beyond its bound', () => {
    const registry = new DeviceRegistry({ maxDevices: 3 });
    registry.record(reading('a', 1), 1);
    registry.record(reading('b', 1), 2);
    registry.record(reading('c', 1), 3);
    registry.record(reading('a', 2), 4); // a is now the most recent; b the least
    registry.record(reading('d', 1), 5);
    expect(registry.size).toBe(3);
    expect(registry.has('b')).toBe(false);
    expect(registry.rows().map((row) => row.id)).toEqual(['a', 'c', 'd']);
    expect(registry.evicted).toBe(1);
  });

  it('keeps at most trendPoints values of the first metric, newest last', () => {
    const registry = new DeviceRegistry({ trendPoints: 60 });
    for (let seq = 1; seq <= 100; seq += 1) registry.record(reading('a', seq, { temp: seq, hum: -seq }), seq);
    const trend = registry.rows()[0]?.trend ?? [];
    expect(trend).toHaveLength(60);
    expect(trend[0]).toBe(41);
    expect(trend[59]).toBe(100);
  });

  it('does not add a trend point when the overview repeats the same reading', () => {
    const registry = new DeviceRegistry();
    registry.record(reading('a', 1), 1);
    registry.record(reading('a', 1), 2);
    const row = registry.rows()[0];
    expect(row?.trend).toEqual([1]);
    expect(row?.lastSeenAt).toBe(2);
  });

  it('returns the same rows, and the same row objects for unchanged devices, until something changes', () => {
    const registry = new DeviceRegistry();
    registry.record(reading('a', 1), 1);
    registry.record(reading('b', 1), 1);
    const first = registry.rows();
    expect(registry.rows()).toBe(first);
    registry.record(reading('b', 2), 2);
    const second = registry.rows();
    expect(second).not.toBe(first);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
  });
});

describe('DeviceRegistry sparkline back-fill', () => {
  const at = (device: string, seq: number): LiveReading => ({
    device,
    seq,
    ts: 10_000 + seq * 100,
    committedAt: 0,
    data: { temp: seq },
  });

  it('fills the gap an outage left in a trend, in device-time order, one point per seq', () => {
    const registry = new DeviceRegistry({ trendPoints: 60 });
    for (let seq = 1; seq <= 10; seq += 1) registry.record(at('a', seq), seq);
    // Outage: 11..20 never arrived live; the first live readings after it are 21..25.
    for (let seq = 21; seq <= 25; seq += 1) registry.record(at('a', seq), seq);
    expect(registry.rows()[0]?.trend).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22, 23, 24, 25]);
    const before = registry.rows()[0];
    // The API's copy of the gap, with a margin overlapping points already held.
    const added = registry.backfillTrend(
      'a',
      Array.from({ length: 15 }, (_, i) => at('a', 8 + i)),
    );
    expect(added).toBe(10);
    const after = registry.rows()[0];
    expect(after).not.toBe(before);
    expect(after?.trend).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // Live readings after the back-fill extend it; an old one delivered late does not.
    registry.record(at('a', 26), 30);
    registry.record(at('a', 15), 31);
    expect(registry.rows()[0]?.trend.slice(-2)).toEqual([25, 26]);
  });

  it('keeps only the newest trendPoints, moves the latest reading forward, and ignores unknown devices', () => {
    const registry = new DeviceRegistry({ trendPoints: 5 });
    registry.record(at('a', 1), 1);
    registry.record(at('b', 1), 1);
    const untouched = registry.rows().find((row) => row.id === 'b');
    expect(registry.backfillTrend('a', [at('a', 2), at('a', 3), at('a', 4), at('a', 5), at('a', 6), at('a', 7)])).toBe(
      6,
    );
    const row = registry.rows().find((r) => r.id === 'a');
    expect(row?.trend).toEqual([3, 4, 5, 6, 7]);
    expect(row?.seq).toBe(7);
    expect(registry.rows().find((r) => r.id === 'b')).toBe(untouched);
    expect(registry.backfillTrend('zz', [at('zz', 1)])).toBe(0);
    expect(registry.has('zz')).toBe(false);
  });

  it('reads only the last stretch of a long outage for a device that sends often', () => {
    const registry = new DeviceRegistry({ trendPoints: 10 });
    for (let seq = 1; seq <= 10; seq += 1) registry.record(at('fast', seq), seq); // one point per 100 ms
    // Twice the trend's span (10 points x 100 ms) before `until`, not the whole hour.
    expect(registry.trendWindowStart('fast', 0, 3_600_000)).toBe(3_598_000);
    expect(registry.trendWindowStart('fast', 3_599_500, 3_600_000)).toBe(3_599_500);
    expect(registry.trendWindowStart('unknown', 42, 3_600_000)).toBe(42);
  });
});
