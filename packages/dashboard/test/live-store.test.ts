// Tests for LiveStore: snapshot identity, stats ordering, chart window, reading routing, bounds.
import { describe, expect, it } from 'vitest';
import type { LiveReading, LiveStats } from '../src/contract.js';
import {
  FOLLOWED_READINGS,
  LiveStore,
  STATS_GAP_MS,
  STATS_HISTORY_POINTS,
  STATS_HISTORY_WINDOW_MS,
} from '../src/live-store.js';

const stats = (at: number, overrides: Partial<LiveStats> = {}): LiveStats => ({
  totalReceived: 10,
  totalValid: 9,
  totalInvalid: 1,
  totalDuplicate: 0,
  successRate: 90,
  readingsPerSec: 5,
  rejectsPerSec: 1,
  rejectsByReason: { integrity_failed: 1 },
  at,
  ...overrides,
});

const reading = (device: string, seq: number): LiveReading => ({
  device,
  seq,
  ts: seq,
  committedAt: seq + 1,
  data: { v: seq },
});

describe('LiveStore', () => {
  it('hands out a new snapshot only when something changed', () => {
    const store = new LiveStore(0);
    const first = store.view();
    expect(store.view()).toBe(first);
    store.applyStats(stats(1_000), 1_000, true);
    const second = store.view();
    expect(second).not.toBe(first);
    expect(second.stats?.totalReceived).toBe(10);
    expect(store.view()).toBe(second);
  });

  it('ignores a stats snapshot older than the one shown (a slow REST answer after a live event)', () => {
    const store = new LiveStore(0);
    store.applyStats(stats(2_000, { totalReceived: 20 }), 2_000, true);
    store.applyStats(stats(1_000, { totalReceived: 10 }), 2_100, false);
    expect(store.view().stats?.totalReceived).toBe(20);
  });

  it('draws the last minutes from the API on load, and live points after them', () => {
    const store = new LiveStore(0);
    const now = 1_000_000_000_000;
    const past = Array.from({ length: 120 }, (_, i) => ({
      at: now - (120 - i) * 1000,
      readingsPerSec: 50,
      rejectsPerSec: 1,
    }));
    expect(store.backfillRates(past)).toBe(120);
    let rates = store.view().rates;
    expect(rates.times).toHaveLength(120);
    expect(rates.times[0]).toBe((now - 120_000) / 1000);
    expect(rates.readingsPerSec.every((value) => value === 50)).toBe(true);
    store.applyStats(stats(now + 250, { readingsPerSec: 60 }), now + 250, true);
    rates = store.view().rates;
    expect(rates.times).toHaveLength(121);
    expect(rates.readingsPerSec.at(-1)).toBe(60);
    // Loaded again (a reconnect): nothing is drawn twice, live points win.
    expect(store.backfillRates([...past, { at: now, readingsPerSec: 1, rejectsPerSec: 0 }])).toBe(0);
    expect(store.view().rates.times).toHaveLength(121);
  });

  it('fills an outage the hub stayed up through from the API, and keeps a gap it has no points for', () => {
    const store = new LiveStore(0);
    const t = 1_000_000_000_000;
    store.applyStats(stats(t), t, true);
    store.applyStats(stats(t + 60_000), t + 60_000, true);
    expect(store.view().rates.readingsPerSec).toEqual([5, null, 5]);
    const during = Array.from({ length: 29 }, (_, i) => ({
      at: t + (i + 1) * 1000,
      readingsPerSec: 7,
      rejectsPerSec: 0,
    }));
    store.backfillRates(during);
    const values = store.view().rates.readingsPerSec;
    // t, 29 points a second apart, then a gap (t+29 s .. t+60 s), then the live point.
    expect(values.slice(0, 30)).toEqual([5, ...Array.from({ length: 29 }, () => 7)]);
    expect(values.slice(30)).toEqual([null, 5]);
  });

  it('charts only live stats, within five minutes and at most 600 points', () => {
    const store = new LiveStore(0);
    store.applyStats(stats(500), 500, false);
    expect(store.view().rates.times).toEqual([]);
    for (let i = 1; i <= 1_000; i += 1) store.applyStats(stats(i * 250, { readingsPerSec: i }), i * 250, true);
    const rates = store.view().rates;
    expect(rates.times.length).toBeLessThanOrEqual(STATS_HISTORY_POINTS);
    const newest = rates.times[rates.times.length - 1] ?? 0;
    const oldest = rates.times[0] ?? 0;
    expect(newest).toBe(250);
    expect((newest - oldest) * 1000).toBeLessThanOrEqual(STATS_HISTORY_WINDOW_MS);
    expect(rates.readingsPerSec[rates.readingsPerSec.length - 1]).toBe(1_000);

    const sparse = new LiveStore(0);
    for (let i = 0; i < 20; i += 1) sparse.applyStats(stats(i * 60_000), 0, true);
    const sparseRates = sparse.view().rates;
    const realTimes = sparseRates.times.filter((_, i) => sparseRates.readingsPerSec[i] !== null);
    expect(realTimes[0]).toBe(14 * 60);
    expect(realTimes).toHaveLength(6);
  });

  it('draws a silence longer than STATS_GAP_MS as a gap (a null point) instead of a line across it', () => {
    const store = new LiveStore(0);
    store.applyStats(stats(1_000, { readingsPerSec: 5 }), 1_000, true);
    store.applyStats(stats(2_000, { readingsPerSec: 6 }), 2_000, true);
    store.applyStats(stats(2_000 + STATS_GAP_MS + 1, { readingsPerSec: 7 }), 9_000, true);
    const rates = store.view().rates;
    expect(rates.readingsPerSec).toEqual([5, 6, null, 7]);
    expect(rates.rejectsPerSec[2]).toBeNull();
    expect(rates.times).toEqual([1, 2, 2.001, (2_000 + STATS_GAP_MS + 1) / 1000]);
  });

  it('merges back-filled readings of the followed device, one copy each, oldest to newest, bounded', () => {
    const store = new LiveStore(0);
    store.follow('a');
    store.applyReadings({ room: 'device:a', readings: [reading('a', 10), reading('a', 11)], dropped: 0 }, 1);
    const added = store.backfillFollowed('a', [reading('a', 8), reading('a', 9), reading('a', 10)]);
    expect(added).toBe(2);
    expect(store.view().followed?.readings.map((r) => r.seq)).toEqual([11, 10, 9, 8]);
    // Readings of a device no longer followed are ignored.
    expect(store.backfillFollowed('b', [reading('b', 1)])).toBe(0);
    const many = Array.from({ length: 500 }, (_, i) => reading('a', 100 + i));
    store.backfillFollowed('a', many);
    const readings = store.view().followed?.readings ?? [];
    expect(readings).toHaveLength(FOLLOWED_READINGS);
    expect(readings[0]?.seq).toBe(599);
  });

  it('records the last outage and its back-fill for the page to show', () => {
    const store = new LiveStore(0);
    expect(store.view().lastOutage).toBeNull();
    store.setOutage({ from: 10, to: 20, backfill: null });
    store.setOutage({
      from: 10,
      to: 20,
      backfill: { readings: 3, rejects: 1, device: 'a', sparklines: 0, error: null },
    });
    expect(store.view().lastOutage?.backfill?.readings).toBe(3);
  });

  it('routes overview batches to the devices table and device-room batches to the followed device', () => {
    const store = new LiveStore(0);
    store.applyReadings({ room: 'overview', readings: [reading('a', 1), reading('b', 1)], dropped: 2 }, 10);
    expect(store.view().devices.map((row) => row.id)).toEqual(['a', 'b']);
    expect(store.view().overviewDropped).toBe(2);

    store.applyReadings({ room: 'device:a', readings: [reading('a', 2)], dropped: 0 }, 11);
    expect(store.view().followed).toBeNull();

    store.follow('a');
    store.applyReadings({ room: 'device:a', readings: [reading('a', 3), reading('a', 4)], dropped: 1 }, 12);
    store.applyReadings({ room: 'device:b', readings: [reading('b', 9)], dropped: 5 }, 12);
    const followed = store.view().followed;
    expect(followed?.device).toBe('a');
    expect(followed?.readings.map((r) => r.seq)).toEqual([4, 3]);
    expect(followed?.dropped).toBe(1);

    store.follow('b');
    expect(store.view().followed?.readings).toEqual([]);
    store.follow(null);
    expect(store.view().followed).toBeNull();
  });

  it('keeps at most the last 200 readings of the followed device', () => {
    const store = new LiveStore(0);
    store.follow('a');
    for (let seq = 1; seq <= 1_000; seq += 1)
      store.applyReadings({ room: 'device:a', readings: [reading('a', seq)], dropped: 0 }, seq);
    const readings = store.view().followed?.readings ?? [];
    expect(readings).toHaveLength(FOLLOWED_READINGS);
    expect(readings[0]?.seq).toBe(1_000);
    expect(readings[FOLLOWED_READINGS - 1]?.seq).toBe(801);
  });

  it('records connection changes and load errors', () => {
    const store = new LiveStore(0);
    expect(store.view().connection.state).toBe('connecting');
    store.setConnection({ state: 'reconnecting', since: 5, attempt: 2, lastError: 'transport close' });
    store.setLoadError('deadLetters', '/api/v1/dead-letters?limit=50: HTTP 503');
    const view = store.view();
    expect(view.connection).toMatchObject({ state: 'reconnecting', attempt: 2 });
    expect(view.loadErrors.deadLetters).toContain('503');
  });
});

describe('LiveStore across a token handover and an outage', () => {
  it('keeps a followed reading delivered twice (two sockets overlapping) once', () => {
    const store = new LiveStore(0);
    store.follow('a');
    store.applyReadings({ room: 'device:a', readings: [reading('a', 1), reading('a', 2)], dropped: 0 }, 1);
    store.applyReadings({ room: 'device:a', readings: [reading('a', 2), reading('a', 3)], dropped: 0 }, 2);
    store.applyReadings({ room: 'device:a', readings: [reading('a', 3)], dropped: 0 }, 3);
    expect(store.view().followed?.readings.map((r) => r.seq)).toEqual([3, 2, 1]);
  });

  it('still drops duplicates once the ring has wrapped, and forgets overwritten seqs', () => {
    const store = new LiveStore(0);
    store.follow('a');
    for (let seq = 0; seq < FOLLOWED_READINGS + 10; seq += 1) {
      store.applyReadings({ room: 'device:a', readings: [reading('a', seq), reading('a', seq)], dropped: 0 }, seq);
    }
    const seqs = store.view().followed?.readings.map((r) => r.seq) ?? [];
    expect(seqs).toHaveLength(FOLLOWED_READINGS);
    expect(new Set(seqs).size).toBe(FOLLOWED_READINGS);
    // seq 0 was overwritten, so it is new again if it ever came back.
    store.applyReadings({ room: 'device:a', readings: [reading('a', 0)], dropped: 0 }, 999);
    expect(store.view().followed?.readings[0]?.seq).toBe(0);
  });

  it('back-fills a device sparkline and publishes a new snapshot', () => {
    const store = new LiveStore(0);
    store.applyReadings({ room: 'overview', readings: [reading('a', 1)], dropped: 0 }, 1);
    store.applyReadings({ room: 'overview', readings: [reading('a', 5)], dropped: 0 }, 2);
    const before = store.view();
    expect(store.backfillTrend('a', [reading('a', 2), reading('a', 3), reading('a', 4)])).toBe(3);
    const after = store.view();
    expect(after).not.toBe(before);
    expect(after.devices[0]?.trend).toEqual([1, 2, 3, 4, 5]);
  });
});
