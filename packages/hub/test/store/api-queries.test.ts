/** The API's read queries (keyset pages, series, minute documents, devices) on PGlite and PostgreSQL. */
import { expect, it } from 'vitest';
import type { StoredReading } from '../../src/pipeline/ports.js';
import { deadLetter, freshDevice, reading, describeEachStore } from './store-fixtures.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
await describeEachStore('API queries', (ctx) => {
  it('pages readings by (ts, seq) without gaps or repeats, including ties on ts', async () => {
    const device = freshDevice('page');
    // 25 readings, several sharing a timestamp, so the cursor must use seq to break ties.
    const batch = Array.from({ length: 25 }, (_, i) => reading({ device, seq: i, ts: T0 + Math.floor(i / 3) * 1000 }));
    await ctx.store.commit({ readings: batch, deadLetters: [] });
    const seen: StoredReading[] = [];
    let after: { ts: number; seq: number } | null = null;
    let pages = 0;
    do {
      const page = await ctx.store.readingPage({ device, fromMs: T0, toMs: T0 + MINUTE, limit: 4, after });
      seen.push(...page.items);
      after = page.next;
      pages += 1;
    } while (after !== null && pages < 50);
    expect(pages).toBe(7);
    expect(seen.map((r) => r.seq)).toEqual(batch.map((r) => r.seq));
    const exact = await ctx.store.readingPage({ device, fromMs: T0, toMs: T0 + MINUTE, limit: 25, after: null });
    expect(exact.next).toBeNull();
    const bounded = await ctx.store.readingPage({
      device,
      fromMs: T0 + 1000,
      toMs: T0 + 2000,
      limit: 100,
      after: null,
    });
    expect(bounded.items.map((r) => r.seq)).toEqual([3, 4, 5]);
  });

  it('folds minute buckets into 5m, 1h and 1d series with metric aggregates', async () => {
    const device = freshDevice('series');
    const batch = Array.from({ length: 12 }, (_, i) =>
      reading({ device, seq: i, ts: T0 + i * MINUTE, data: { t: i, label: 'x' } }),
    );
    await ctx.store.commit({
      readings: batch,
      deadLetters: [deadLetter({ device, receivedAt: T0 + 30_000, reason: 'timestamp_out_of_range' })],
    });
    const fiveSeries = await ctx.store.series({
      device,
      fromMs: T0,
      toMs: T0 + 12 * MINUTE,
      width: '5m',
      metrics: { after: null, limit: 10 },
    });
    expect(fiveSeries.metrics).toEqual(['t']);
    expect(fiveSeries.nextMetric).toBeNull();
    const five = fiveSeries.points;
    expect(five.map((p) => [p.start - T0, p.valid, p.invalid])).toEqual([
      [0, 5, 1],
      [5 * MINUTE, 5, 0],
      [10 * MINUTE, 2, 0],
    ]);
    expect(five[0]?.metrics['t']).toEqual({ min: 0, max: 4, sum: 10, count: 5, avg: 2 });
    const hour = (
      await ctx.store.series({ device, fromMs: T0, toMs: T0 + 3_600_000, width: '1h', metrics: { names: ['t'] } })
    ).points;
    expect(hour).toHaveLength(1);
    expect(hour[0]?.metrics['t']).toMatchObject({ min: 0, max: 11, count: 12 });
    const day = (
      await ctx.store.series({ device, fromMs: T0, toMs: T0 + 86_400_000, width: '1d', metrics: { names: ['nope'] } })
    ).points;
    expect(day[0]?.valid).toBe(12);
    expect(day[0]?.metrics).toEqual({});
    expect(day[0]?.start).toBe(Date.UTC(2026, 10, 20));
  });

  it('answers sums and averages of decimal readings without binary float noise', async () => {
    const device = freshDevice('noise');
    const values = [0.1, 0.2, 0.4];
    await ctx.store.commit({
      readings: values.map((t, i) => reading({ device, seq: i, ts: T0 + i * 1000, data: { t } })),
      deadLetters: [],
    });
    expect(values.reduce((a, b) => a + b, 0)).toBe(0.7000000000000001);
    const {
      points: [point],
    } = await ctx.store.series({ device, fromMs: T0, toMs: T0 + MINUTE, width: '1m', metrics: { names: ['t'] } });
    expect(point?.metrics['t']).toEqual({ min: 0.1, max: 0.4, sum: 0.7, count: 3, avg: 0.233333333333 });
  });

  it('builds the per-minute documents with records and totals, paged by minute', async () => {
    const device = freshDevice('minutes');
    const batch = [0, 1, 2, 61, 62, 125].map((s, i) => reading({ device, seq: i, ts: T0 + s * 1000, data: { n: i } }));
    await ctx.store.commit({
      readings: batch,
      deadLetters: [deadLetter({ device, receivedAt: T0 + 5_000, reason: 'timestamp_out_of_range' })],
    });
    const first = await ctx.store.minuteDocuments({
      device,
      fromMs: T0,
      toMs: T0 + 10 * MINUTE,
      limit: 2,
      afterMinute: null,
      maxRecords: 2,
    });
    expect(first.items.map((d) => [d.minute - T0, d.totalReceived, d.totalValid, d.totalInvalid])).toEqual([
      [0, 4, 3, 1],
      [MINUTE, 2, 2, 0],
    ]);
    expect(first.items[0]?.records).toEqual([
      { n: 0, seq: 0, ts: T0, receivedAt: T0 + 5 },
      { n: 1, seq: 1, ts: T0 + 1000, receivedAt: T0 + 1005 },
    ]);
    expect(first.items[0]?.recordsTruncated).toBe(true);
    expect(first.next).toBe(T0 + MINUTE);
    const second = await ctx.store.minuteDocuments({
      device,
      fromMs: T0,
      toMs: T0 + 10 * MINUTE,
      limit: 2,
      afterMinute: first.next,
      maxRecords: 10,
    });
    expect(second.items.map((d) => d.minute - T0)).toEqual([2 * MINUTE]);
    expect(second.next).toBeNull();
  });

  it('lists devices with last-seen and the last hour rate, keyset-paged by id', async () => {
    const a = freshDevice('zz-dev-a');
    const b = freshDevice('zz-dev-b');
    const now = T0 + 30 * MINUTE;
    await ctx.store.commit({
      readings: [
        reading({ device: a, seq: 1, ts: T0 }),
        reading({ device: a, seq: 2, ts: T0 + 20 * MINUTE }),
        reading({ device: b, seq: 1, ts: T0 - 2 * 3_600_000 }),
      ],
      deadLetters: [],
    });
    const all: Array<{ device: string; lastSeen: number | null; validLastHour: number }> = [];
    let after: string | null = null;
    do {
      const page = await ctx.store.devicePage({ limit: 2, afterDevice: after, nowMs: now });
      all.push(...page.items);
      after = page.next;
    } while (after !== null);
    const ids = all.map((d) => d.device);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain('');
    expect(all.find((d) => d.device === a)).toMatchObject({ lastSeen: T0 + 20 * MINUTE, validLastHour: 2 });
    expect(all.find((d) => d.device === b)).toMatchObject({ validLastHour: 0 });
  });

  it('gives a device its real last reading time and its rate over the time it has been sending', async () => {
    const device = freshDevice('zz-fresh');
    const now = T0 + 5 * MINUTE;
    // Began 4 minutes before `now`, one reading every 10 s; the last one 37 s into its minute.
    const readings = Array.from({ length: 24 }, (_, i) =>
      reading({ device, seq: i, ts: T0 + MINUTE + 10_000 * i + (i === 23 ? 7_000 : 0) }),
    );
    await ctx.store.commit({ readings, deadLetters: [] });
    const page = await ctx.store.devicePage({ limit: 1000, afterDevice: null, nowMs: now });
    const summary = page.items.find((d) => d.device === device);
    const last = readings.at(-1)?.ts ?? 0;
    expect(summary?.lastSeen).toBe(T0 + 4 * MINUTE);
    expect(summary?.lastReadingAt).toBe(last);
    expect(summary?.validLastHour).toBe(24);
    // 24 readings since its first minute (T0 + 1 min), 4 minutes before now: 6 a minute, not 24 / 60.
    expect(summary?.perMinuteLastHour).toBe(6);
  });

  it('filters and pages dead letters newest first', async () => {
    const device = freshDevice('dl');
    const letters = Array.from({ length: 7 }, (_, i) =>
      deadLetter({
        device,
        receivedAt: T0 + (i % 3) * 1000,
        reason: i % 2 === 0 ? 'integrity_failed' : 'stale_frame',
        source: i === 6 ? 'legacy' : 'tcp',
      }),
    );
    await ctx.store.commit({ readings: [], deadLetters: letters });
    const ids: string[] = [];
    let before: { receivedAt: number; id: string } | null = null;
    do {
      const page = await ctx.store.deadLetterPage({ filter: { device }, limit: 3, before });
      ids.push(...page.items.map((l) => l.id));
      for (let i = 1; i < page.items.length; i += 1) {
        expect(page.items[i - 1]!.receivedAt).toBeGreaterThanOrEqual(page.items[i]!.receivedAt);
      }
      before = page.next;
    } while (before !== null);
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
    const stale = await ctx.store.deadLetterPage({
      filter: { device, reason: 'stale_frame' },
      limit: 50,
      before: null,
    });
    expect(stale.items).toHaveLength(3);
    const legacy = await ctx.store.deadLetterPage({ filter: { device, source: 'legacy' }, limit: 50, before: null });
    expect(legacy.items).toHaveLength(1);
    const timed = await ctx.store.deadLetterPage({
      filter: { device, fromMs: T0 + 1000, toMs: T0 + 2000 },
      limit: 50,
      before: null,
    });
    expect(timed.items.every((l) => l.receivedAt === T0 + 1000)).toBe(true);
    expect(timed.items).toHaveLength(2);
  });
});
