/**
 * The two commit paths (strict: plain COPY / INSERT that fails on a stored key; lenient: ON CONFLICT
 * DO NOTHING) must agree on keys and answers: a reading written by one is a duplicate for the other,
 * a batch mixing stored and new keys falls back and answers exactly per row, in-batch repeats count
 * once, and rollups count each new reading once whichever path wrote it. Both batch sizes (inline
 * statement and COPY) on both drivers.
 */
import { expect, it } from 'vitest';
import { SMALL_BATCH_ROWS } from '../../src/store/commit-statements.js';
import { freshDevice, reading, describeEachStore } from './store-fixtures.js';

await describeEachStore('commit paths', (ctx) => {
  /** One all-new commit: ends any lenient run left by an earlier test, so the next commit is strict. */
  async function strictMode(): Promise<void> {
    const device = freshDevice('reset');
    await ctx.store.commit({ readings: [reading({ device, seq: 1, ts: Date.UTC(2026, 10, 23) })], deadLetters: [] });
  }

  const sizes = [
    ['inline', 10],
    ['COPY', SMALL_BATCH_ROWS + 50],
  ] as const;

  it.each(sizes)(
    'a strict batch, then a batch mixing its keys with new ones: exact answers (%s)',
    async (_name, size) => {
      const device = freshDevice('paths');
      const base = Date.UTC(2026, 10, 23, 9, 0, 0);
      const first = Array.from({ length: size }, (_, i) => reading({ device, seq: i, ts: base + i * 7 }));
      await strictMode();
      const before = ctx.store.commitPaths();
      expect((await ctx.store.commit({ readings: first, deadLetters: [] })).inserted.every((x) => x)).toBe(true);
      expect(ctx.store.commitPaths().strict).toBe(before.strict + 1);

      // Every other reading of `first` again (a resend), interleaved with new ones.
      const mixed = Array.from({ length: size }, (_, i) =>
        i % 2 === 0 ? (first[i] as (typeof first)[number]) : reading({ device, seq: size + i, ts: base + i * 7 + 3 }),
      );
      const result = await ctx.store.commit({ readings: mixed, deadLetters: [] });
      expect(result.inserted).toEqual(mixed.map((_, i) => i % 2 === 1));
      const after = ctx.store.commitPaths();
      expect(after.conflicts).toBe(before.conflicts + 1);
      expect(after.lenient).toBeGreaterThan(before.lenient);

      const buckets = await ctx.store.minuteBuckets(device, base - 60_000, base + 3_600_000);
      expect(buckets.reduce((n, b) => n + b.valid, 0)).toBe(size + size / 2);
      const stored = await ctx.store.readings(device, base - 1, base + 3_600_000, 100_000);
      expect(stored).toHaveLength(size + size / 2);
    },
  );

  it.each(sizes)('a key repeated inside a new batch is stored once and answered once (%s)', async (_name, size) => {
    const device = freshDevice('repeat');
    const base = Date.UTC(2026, 10, 23, 9, 30, 0);
    const batch = Array.from({ length: size }, (_, i) => reading({ device, seq: i, ts: base + i }));
    const repeated = [...batch, batch[0] as (typeof batch)[number]];
    const result = await ctx.store.commit({ readings: repeated, deadLetters: [] });
    expect(result.inserted).toEqual([...batch.map(() => true), false]);
    const buckets = await ctx.store.minuteBuckets(device, base - 60_000, base + 3_600_000);
    expect(buckets.reduce((n, b) => n + b.valid, 0)).toBe(size);
  });

  it('goes back to strict commits once a lenient commit finds no stored key', async () => {
    const device = freshDevice('recover');
    const base = Date.UTC(2026, 10, 23, 10, 0, 0);
    const a = reading({ device, seq: 1, ts: base });
    await strictMode();
    await ctx.store.commit({ readings: [a], deadLetters: [] });
    await ctx.store.commit({ readings: [a, reading({ device, seq: 2, ts: base + 1 })], deadLetters: [] });
    const lenient = ctx.store.commitPaths();
    // All new: committed leniently (just after a conflict), which switches back to strict.
    expect(
      (await ctx.store.commit({ readings: [reading({ device, seq: 3, ts: base + 2 })], deadLetters: [] })).inserted,
    ).toEqual([true]);
    expect(ctx.store.commitPaths().lenient).toBe(lenient.lenient + 1);
    await ctx.store.commit({ readings: [reading({ device, seq: 4, ts: base + 3 })], deadLetters: [] });
    expect(ctx.store.commitPaths().strict).toBe(lenient.strict + 1);
  });

  it('writes readings whose times cannot be written as exact ISO text through the lenient path', async () => {
    const device = freshDevice('far');
    // Past MAX_EXACT_MS: the strict COPY would not be guaranteed to hit the same key.
    const far = Date.UTC(2300, 0, 1);
    const before = ctx.store.commitPaths();
    const result = await ctx.store.commit({ readings: [reading({ device, seq: 1, ts: far })], deadLetters: [] });
    expect(result.inserted).toEqual([true]);
    expect(ctx.store.commitPaths().strict).toBe(before.strict);
    const again = await ctx.store.commit({ readings: [reading({ device, seq: 1, ts: far })], deadLetters: [] });
    expect(again.inserted).toEqual([false]);
  });
});
