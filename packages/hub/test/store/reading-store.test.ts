/**
 * The ReadingStore contract, run unchanged against embedded PGlite and a PostgreSQL server. Tests share
 * one store per driver and stay apart by device ids and dates; totals are checked as deltas.
 */
import { expect, it } from 'vitest';
import { readingCopyText } from '../../src/store/commit-statements.js';
import { deadLetter, freshDevice, reading, describeEachStore } from './store-fixtures.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
await describeEachStore('ReadingStore', (ctx) => {
  it('migrates idempotently', async () => {
    await ctx.store.migrate();
    await ctx.store.migrate();
    await expect(ctx.store.ping()).resolves.toBeUndefined();
  });

  it('stores new readings, keeps millisecond timestamps exact and returns them ordered by ts', async () => {
    const device = freshDevice('ms');
    const base = Date.UTC(2024, 2, 10, 12, 0, 0, 0);
    const batch = [
      reading({ device, seq: 2, ts: base + 999, receivedAt: base + 1_001, data: { t: 1.25, label: 'b' } }),
      reading({ device, seq: 1, ts: base + 123, receivedAt: base + 457, data: { t: -3, nested: { x: 1 } } }),
      reading({ device, seq: 3, ts: base + 1, source: 'legacy', receivedAt: base + 2 }),
    ];
    const result = await ctx.store.commit({ readings: batch, deadLetters: [] });
    expect(result.inserted).toEqual([true, true, true]);

    const rows = await ctx.store.readings(device, base, base + MINUTE, 10);
    expect(rows).toEqual([
      { device, seq: 3, ts: base + 1, receivedAt: base + 2, source: 'legacy', data: { v: 3 } },
      { device, seq: 1, ts: base + 123, receivedAt: base + 457, source: 'tcp', data: { t: -3, nested: { x: 1 } } },
      { device, seq: 2, ts: base + 999, receivedAt: base + 1_001, source: 'tcp', data: { t: 1.25, label: 'b' } },
    ]);
    // Half-open range and limit.
    expect((await ctx.store.readings(device, base + 1, base + 999, 10)).map((r) => r.seq)).toEqual([3, 1]);
    expect((await ctx.store.readings(device, base, base + MINUTE, 1)).map((r) => r.seq)).toEqual([3]);
  });

  it('treats the same batch committed twice as all duplicates and leaves counts unchanged', async () => {
    const device = freshDevice('idem');
    const base = Date.UTC(2024, 2, 11, 8, 30);
    const batch = {
      readings: [0, 1, 2, 3].map((seq) => reading({ device, seq, ts: base + seq * 1_000, data: { x: seq } })),
      deadLetters: [],
    };
    expect((await ctx.store.commit(batch)).inserted).toEqual([true, true, true, true]);
    const totalsAfterFirst = await ctx.store.totals();
    const bucketsAfterFirst = await ctx.store.minuteBuckets(device, base, base + MINUTE);

    expect((await ctx.store.commit(batch)).inserted).toEqual([false, false, false, false]);
    expect(await ctx.store.totals()).toEqual(totalsAfterFirst);
    expect(await ctx.store.minuteBuckets(device, base, base + MINUTE)).toEqual(bucketsAfterFirst);
    expect(bucketsAfterFirst[0]?.valid).toBe(4);
    expect(bucketsAfterFirst[0]?.metrics['x']).toEqual({ min: 0, max: 3, sum: 6, count: 4 });
  });

  it('counts a key repeated inside one batch once as inserted and once as duplicate', async () => {
    const device = freshDevice('dup');
    const base = Date.UTC(2024, 2, 12, 9, 0);
    const before = await ctx.store.totals();
    const a = reading({ device, seq: 1, ts: base, data: { x: 10 } });
    const b = reading({ device, seq: 2, ts: base + 10, data: { x: 20 } });
    // Same device and seq but another ts is a different key.
    const c = reading({ device, seq: 1, ts: base + 20, data: { x: 30 } });
    const result = await ctx.store.commit({ readings: [a, b, a, c, b, a], deadLetters: [] });
    expect(result.inserted).toEqual([true, true, false, true, false, false]);

    const after = await ctx.store.totals();
    expect(after.valid - before.valid).toBe(3);
    const [bucket] = await ctx.store.minuteBuckets(device, base, base + MINUTE);
    expect(bucket?.valid).toBe(3);
    expect(bucket?.metrics['x']).toEqual({ min: 10, max: 30, sum: 60, count: 3 });

    // A later batch mixing old and new keys reports each correctly.
    const d = reading({ device, seq: 3, ts: base + 30 });
    expect((await ctx.store.commit({ readings: [b, d, c], deadLetters: [] })).inserted).toEqual([false, true, false]);
  });

  it('creates one partition per UTC day present in a batch', async () => {
    const device = freshDevice('days');
    const lateDay1 = Date.UTC(2024, 3, 1, 23, 59, 59, 999);
    const earlyDay2 = Date.UTC(2024, 3, 2, 0, 0, 0, 0);
    await ctx.store.commit({
      readings: [reading({ device, seq: 1, ts: lateDay1 }), reading({ device, seq: 2, ts: earlyDay2 })],
      deadLetters: [],
    });
    const partitions = await ctx.store.listPartitions();
    expect(partitions).toContain('readings_p20240401');
    expect(partitions).toContain('readings_p20240402');
    expect(partitions).not.toContain('readings_p20240403');
    const rows = await ctx.store.readings(device, lateDay1 - DAY, earlyDay2 + DAY, 10);
    expect(rows.map((r) => [r.seq, r.ts])).toEqual([
      [1, lateDay1],
      [2, earlyDay2],
    ]);
  });

  it('maintains per-minute buckets and metrics exactly, across commits', async () => {
    const device = freshDevice('minutes');
    const m0 = Date.UTC(2024, 4, 5, 10, 0);
    const m1 = m0 + MINUTE;
    await ctx.store.commit({
      readings: [
        reading({ device, seq: 1, ts: m0 + 1_000, data: { temp: 20.5, hum: 40, label: 'x', flag: true } }),
        reading({ device, seq: 2, ts: m0 + 59_999, data: { temp: -1.25, hum: 60, obj: { temp: 1000 } } }),
        reading({ device, seq: 3, ts: m1, data: { temp: 7 } }),
        reading({ device, seq: 4, ts: m1 + 30_000, data: { other: 'text' } }),
      ],
      deadLetters: [],
    });
    expect(await ctx.store.minuteBuckets(device, m0, m1 + MINUTE)).toEqual([
      {
        device,
        minute: m0,
        valid: 2,
        invalid: 0,
        metrics: {
          hum: { min: 40, max: 60, sum: 100, count: 2 },
          temp: { min: -1.25, max: 20.5, sum: 19.25, count: 2 },
        },
      },
      { device, minute: m1, valid: 2, invalid: 0, metrics: { temp: { min: 7, max: 7, sum: 7, count: 1 } } },
    ]);

    // A second commit into an existing minute widens min/max and adds sums and counts.
    await ctx.store.commit({
      readings: [
        reading({ device, seq: 5, ts: m0 + 5, data: { temp: -10, hum: 50 } }),
        reading({ device, seq: 6, ts: m0 + 6, data: { temp: 100, extra: 0.5 } }),
      ],
      deadLetters: [],
    });
    const [first] = await ctx.store.minuteBuckets(device, m0, m0 + MINUTE);
    expect(first).toEqual({
      device,
      minute: m0,
      valid: 4,
      invalid: 0,
      metrics: {
        extra: { min: 0.5, max: 0.5, sum: 0.5, count: 1 },
        hum: { min: 40, max: 60, sum: 150, count: 3 },
        temp: { min: -10, max: 100, sum: 109.25, count: 4 },
      },
    });
    // Range is half-open on minute starts.
    expect((await ctx.store.minuteBuckets(device, m0 + 1, m1 + MINUTE)).map((b) => b.minute)).toEqual([m1]);
  });

  it('stores dead letters with raw bytes intact and counts them as invalid', async () => {
    const device = freshDevice('dead');
    const at = Date.UTC(2024, 5, 1, 14, 3, 7, 321);
    const allBytes = new Uint8Array(256).map((_, i) => i);
    const before = await ctx.store.totals();
    await ctx.store.commit({
      readings: [reading({ device, seq: 1, ts: at - 500 })],
      deadLetters: [
        deadLetter({ receivedAt: at, device, reason: 'timestamp_out_of_range', raw: allBytes, truncated: true }),
        deadLetter({ receivedAt: at + 1, device: null, detail: 'nul \u0000 in detail', raw: new Uint8Array(0) }),
      ],
    });

    const after = await ctx.store.totals();
    expect(after.valid - before.valid).toBe(1);
    expect(after.invalid - before.invalid).toBe(2);
    const [bucket] = await ctx.store.minuteBuckets(device, at - MINUTE, at + MINUTE);
    expect(bucket).toMatchObject({ minute: Date.UTC(2024, 5, 1, 14, 3), valid: 1, invalid: 1 });

    const [newest, older] = await ctx.store.recentDeadLetters(2);
    expect(newest).toMatchObject({
      device: null,
      detail: 'nul \uFFFD in detail',
      receivedAt: at + 1,
      truncated: false,
    });
    expect(newest?.raw).toEqual(new Uint8Array(0));
    expect(older).toMatchObject({
      reason: 'timestamp_out_of_range',
      source: 'tcp',
      peer: '127.0.0.1:50000',
      device,
      detail: 'integrity tag mismatch',
      truncated: true,
      receivedAt: at,
    });
    expect(older?.raw).toEqual(allBytes);
    expect(typeof older?.id).toBe('string');
    expect(Number(newest?.id)).toBeGreaterThan(Number(older?.id));
  });

  it('commits 20,000 readings in one call', async () => {
    const devices = [freshDevice('bulk'), freshDevice('bulk'), freshDevice('bulk'), freshDevice('bulk')];
    const base = Date.UTC(2024, 6, 1, 23, 50);
    const before = await ctx.store.totals();
    const batch = Array.from({ length: 20_000 }, (_, i) =>
      reading({ device: devices[i % 4] as string, seq: i, ts: base + i * 60, data: { i, half: i / 2 } }),
    );
    const result = await ctx.store.commit({ readings: batch, deadLetters: [] });
    expect(result.inserted).toHaveLength(20_000);
    expect(result.inserted.every((x) => x)).toBe(true);
    expect((await ctx.store.totals()).valid - before.valid).toBe(20_000);

    const firstDevice = devices[0] as string;
    const buckets = await ctx.store.minuteBuckets(firstDevice, base, base + DAY);
    expect(buckets.reduce((n, b) => n + b.valid, 0)).toBe(5_000);
    expect(buckets.reduce((n, b) => n + (b.metrics['i']?.count ?? 0), 0)).toBe(5_000);
    // Device 0 holds i = 0, 4, 8, ...: their sum is 4 * (0 + 1 + ... + 4999).
    expect(buckets.reduce((n, b) => n + (b.metrics['i']?.sum ?? 0), 0)).toBe(4 * ((4_999 * 5_000) / 2));
    expect(await ctx.store.readings(firstDevice, base, base + DAY, 100_000)).toHaveLength(5_000);

    const again = await ctx.store.commit({ readings: batch, deadLetters: [] });
    expect(again.inserted.some((x) => x)).toBe(false);
  });

  it('sends COPY rows made in advance as they are, and formats the parts that come without', async () => {
    const device = freshDevice('rows');
    const base = Date.UTC(2024, 6, 2, 10, 0);
    const batch = Array.from({ length: 3_000 }, (_, i) =>
      reading({ device, seq: i, ts: base + i, receivedAt: base + i, source: 'legacy', data: { name: `n${i}` } }),
    );
    // Rows made in advance for the first and last thousand; for the last, with a marker only the rows
    // carry, so the stored data shows the store sent those bytes instead of formatting the readings.
    const first = Buffer.from(readingCopyText(batch.slice(0, 1_000)), 'utf8');
    const marked = batch.slice(2_000).map((r) => ({ ...r, data: { name: `${String(r.data['name'])}*` } }));
    const last = Buffer.from(readingCopyText(marked), 'utf8');
    // Earlier tests' resends leave the store writing leniently; a commit of nothing but new readings
    // brings it back to the strict COPY, the path that takes rows made in advance.
    await ctx.store.commit({ readings: [reading({ device, seq: 10_000, ts: base - 1 })], deadLetters: [] });
    const result = await ctx.store.commit({
      readings: batch,
      deadLetters: [],
      copyParts: [
        { readings: 1_000, rows: first },
        { readings: 1_000, rows: undefined },
        { readings: 1_000, rows: last },
      ],
    });
    expect(result.inserted.every((x) => x)).toBe(true);
    const stored = await ctx.store.readings(device, base, base + 3_000, 10_000);
    expect(stored.map((r) => r.data['name'])).toEqual([
      ...batch.slice(0, 2_000).map((r) => r.data['name']),
      ...marked.map((r) => r.data['name']),
    ]);
    expect(stored.map((r) => [r.seq, r.ts, r.receivedAt, r.source])).toEqual(
      batch.map((r) => [r.seq, r.ts, r.receivedAt, 'legacy']),
    );
  });

  it('rolls a failing commit back entirely and stays usable', async () => {
    const device = freshDevice('atomic');
    const day = Date.UTC(2024, 7, 15, 6, 0);
    const before = await ctx.store.totals();
    const lettersBefore = await ctx.store.recentDeadLetters(1);
    const good = [reading({ device, seq: 1, ts: day }), reading({ device, seq: 2, ts: day + 1 })];
    // jsonb refuses \u0000, so this reading cannot be stored; it is last so the others were already sent.
    const poison = reading({ device, seq: 3, ts: day + 2, data: { note: 'poison-value\u0000' } });
    const letter = deadLetter({ receivedAt: day, device, detail: 'should vanish' });

    const failure = await ctx.store
      .commit({ readings: [...good, poison], deadLetters: [letter] })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^store commit failed: .*SQLSTATE/);
    expect((failure as Error).message).not.toContain('poison-value');

    expect(await ctx.store.totals()).toEqual(before);
    expect(await ctx.store.readings(device, day - DAY, day + DAY, 10)).toEqual([]);
    expect(await ctx.store.minuteBuckets(device, day - DAY, day + DAY)).toEqual([]);
    expect((await ctx.store.recentDeadLetters(1))[0]?.id).toBe(lettersBefore[0]?.id);

    expect((await ctx.store.commit({ readings: good, deadLetters: [letter] })).inserted).toEqual([true, true]);
    expect((await ctx.store.totals()).valid - before.valid).toBe(2);
  });

  it('drops whole partitions before a cutoff and keeps the rollups', async () => {
    const device = freshDevice('retention');
    const days = [Date.UTC(2001, 0, 1, 12), Date.UTC(2001, 0, 2, 12), Date.UTC(2001, 0, 3, 0)];
    await ctx.store.commit({ readings: days.map((ts, i) => reading({ device, seq: i, ts })), deadLetters: [] });
    const totals = await ctx.store.totals();

    const dropped = await ctx.store.dropPartitionsBefore(Date.UTC(2001, 0, 3));
    expect(dropped).toEqual(['readings_p20010101', 'readings_p20010102']);
    const partitions = await ctx.store.listPartitions();
    expect(partitions).toContain('readings_p20010103');
    expect(partitions).not.toContain('readings_p20010102');
    expect(
      (await ctx.store.readings(device, Date.UTC(2000, 0, 1), Date.UTC(2002, 0, 1), 10)).map((r) => r.seq),
    ).toEqual([2]);
    expect(await ctx.store.totals()).toEqual(totals);
    expect(await ctx.store.minuteBuckets(device, Date.UTC(2001, 0, 1), Date.UTC(2001, 0, 2))).toHaveLength(1);

    // The dropped day is recreated on demand (the partition cache forgot it).
    const back = await ctx.store.commit({
      readings: [reading({ device, seq: 10, ts: days[0] as number })],
      deadLetters: [],
    });
    expect(back.inserted).toEqual([true]);
    expect(await ctx.store.dropPartitionsBefore(Date.UTC(2000, 0, 1))).toEqual([]);
  });

  it('keeps committed data across close and reopen, and refuses work once closed', async () => {
    const device = freshDevice('durable');
    const ts = Date.UTC(2024, 8, 9, 10, 11, 12, 13);
    await ctx.store.commit({ readings: [reading({ device, seq: 42, ts, data: { k: 'v' } })], deadLetters: [] });
    const totals = await ctx.store.totals();
    await ctx.store.close();
    await expect(ctx.store.commit({ readings: [reading({ device, seq: 43, ts })], deadLetters: [] })).rejects.toThrow(
      /^store commit failed: store is closed/,
    );

    ctx.store = await ctx.driver.open();
    await ctx.store.migrate();
    expect(await ctx.store.totals()).toEqual(totals);
    expect(await ctx.store.readings(device, ts, ts + 1, 10)).toMatchObject([{ seq: 42, ts, data: { k: 'v' } }]);
  });
});
