/**
 * XRayIOT signal summaries ride in the readings' commit (CommitBatch.signals): on every commit path
 * (strict inline, strict COPY, lenient after a conflict, summaries alone) they are stored once, and a
 * commit that fails leaves neither the readings nor the summaries behind.
 */
import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import type { SignalSummaryRow } from '../../src/pipeline/ports.js';
import { storeErrorCodeOf } from '../../src/pipeline/store-error.js';
import { SIGNAL_COPY_ROWS, SMALL_BATCH_ROWS } from '../../src/store/commit-statements.js';
import { signalStoreFor } from '../../src/store/index.js';
import { describeEachStore, freshDevice, reading } from './store-fixtures.js';

function summary(device: string, time: number, payload: string): SignalSummaryRow {
  return {
    deviceId: device,
    time,
    capturedAt: time + 5,
    receivedAt: time + 9,
    dataLength: 1,
    dataVolume: payload.length,
    format: 'xray-sample',
    source: 'amqp',
    correlationId: null,
    payloadSha256: createHash('sha256').update(payload).digest(),
  };
}

await describeEachStore('signal summaries in the readings commit', (ctx) => {
  async function summariesOf(device: string): Promise<number> {
    const rows = await signalStoreFor(ctx.store).signalSummaries({
      device,
      fromMs: null,
      toMs: null,
      limit: 100_000,
      beforeId: null,
    });
    return rows.length;
  }

  it.each([
    ['inline', 10],
    ['COPY', SMALL_BATCH_ROWS + 20],
  ] as const)('stores readings and summaries together, each once on a resend (%s)', async (_name, size) => {
    const device = freshDevice('sum');
    const base = Date.UTC(2026, 10, 23, 11, 0, 0);
    const readings = Array.from({ length: size }, (_, i) => reading({ device, seq: i, ts: base + i }));
    const signals = readings.map((_, i) => summary(device, base + i, `payload-${i}`));
    await ctx.store.commit({ readings, deadLetters: [], signals });
    expect(await summariesOf(device)).toBe(size);
    // The same batch again: strict meets stored keys, the lenient retry stores nothing twice.
    const again = await ctx.store.commit({ readings, deadLetters: [], signals });
    expect(again.inserted.every((fresh) => !fresh)).toBe(true);
    expect(await summariesOf(device)).toBe(size);
    const stored = await ctx.store.readings(device, base - 1, base + 3_600_000, 100_000);
    expect(stored).toHaveLength(size);
  });

  it('new readings with an already stored summary: the strict attempt fails, the lenient one stores them', async () => {
    const device = freshDevice('sum-stored');
    const base = Date.UTC(2026, 10, 23, 11, 15, 0);
    const known = summary(device, base, 'known');
    await ctx.store.commit({ readings: [], deadLetters: [], signals: [known] });
    // Back to strict commits (a lenient run may be left by an earlier test).
    for (let i = 0; i < 10; i += 1) {
      await ctx.store.commit({
        readings: [reading({ device: freshDevice('reset'), seq: 1, ts: base })],
        deadLetters: [],
      });
    }
    const before = ctx.store.commitPaths();
    const readings = [reading({ device, seq: 1, ts: base }), reading({ device, seq: 2, ts: base + 1 })];
    const result = await ctx.store.commit({
      readings,
      deadLetters: [],
      signals: [known, summary(device, base + 1, 'new')],
    });
    expect(result.inserted).toEqual([true, true]);
    expect(ctx.store.commitPaths().conflicts).toBe(before.conflicts + 1);
    expect(await summariesOf(device)).toBe(2);
  });

  it('a burst COPYs its summaries with the same keys the statement writes: resends by either path dedupe', async () => {
    const device = freshDevice('sum-copy');
    const base = Date.UTC(2026, 10, 23, 11, 45, 0);
    const count = SIGNAL_COPY_ROWS + 3;
    const readings = Array.from({ length: count }, (_, i) => reading({ device, seq: i, ts: base + i }));
    // Odd times and text that COPY must escape: the key must not depend on the path.
    const signals = readings.map((_, i) => ({
      ...summary(device, base + i * 1_001, `burst-${i}`),
      correlationId: i === 0 ? 'tab\there\\back' : null,
    }));
    await ctx.store.commit({ readings, deadLetters: [], signals });
    expect(await summariesOf(device)).toBe(count);
    const [first] = await signalStoreFor(ctx.store).signalSummaries({
      device,
      fromMs: base,
      toMs: base + 1,
      limit: 1,
      beforeId: null,
    });
    expect(first).toMatchObject({
      time: base,
      capturedAt: base + 5,
      receivedAt: base + 9,
      correlationId: 'tab\there\\back',
    });
    // One of them again with a new reading (the statement path): its summary is a duplicate there too.
    const single = await ctx.store.commit({
      readings: [reading({ device, seq: count + 1, ts: base + count + 1 })],
      deadLetters: [],
      signals: [signals[5] as SignalSummaryRow],
    });
    expect(single.inserted).toEqual([true]);
    expect(await summariesOf(device)).toBe(count);
  });

  it('commits summaries without readings (a signal without points)', async () => {
    const device = freshDevice('sum-alone');
    const time = Date.UTC(2026, 10, 23, 11, 30, 0);
    const result = await ctx.store.commit({ readings: [], deadLetters: [], signals: [summary(device, time, 'empty')] });
    expect(result.inserted).toEqual([]);
    expect(await summariesOf(device)).toBe(1);
  });

  it.each([
    ['a reading', 'reading'],
    ['a summary', 'summary'],
  ] as const)('a commit refused for %s leaves neither readings nor summaries', async (_name, poison) => {
    const device = freshDevice('sum-atomic');
    const base = Date.UTC(2026, 10, 23, 12, 0, 0);
    // PostgreSQL refuses both as data: a NUL in jsonb, a time past its last timestamp (year 294276).
    const unstorable = 1e16;
    const readings = [
      reading({ device, seq: 1, ts: base }),
      reading({ device, seq: 2, ts: base + 1, ...(poison === 'reading' ? { data: { v: 'a\u0000b' } } : {}) }),
    ];
    const signals = [summary(device, base, 'a'), summary(device, poison === 'summary' ? unstorable : base + 1, 'b')];
    const failure = await ctx.store.commit({ readings, deadLetters: [], signals }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(storeErrorCodeOf(failure)).toBe('store_refused_data');
    expect(await summariesOf(device)).toBe(0);
    expect(await ctx.store.readings(device, base - 1, base + 3_600_000, 100)).toHaveLength(0);
  });
});
