/**
 * The dead-letter store's bound on both drivers: a prune keeps at most maxRows letters (the newest),
 * deletes those older than the age bound (and only those), works in bounded steps and goes on in the
 * next run, stops between steps when told, and two prunes at once (two hubs) delete exactly what the
 * bounds ask between them. On PGlite, which runs no autovacuum, pruned space is reused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/pipeline/ports.js';
import { registryStoreFor } from '../../src/store/index.js';
import { PgliteExecutor } from '../../src/store/pglite-executor.js';
import type { SqlExecutor } from '../../src/store/sql-executor.js';
import { SqlReadingStore } from '../../src/store/sql-store.js';
import { toNumber } from '../../src/store/sql-values.js';
import { deadLetter, describeEachStore } from './store-fixtures.js';

const HOUR = 3_600_000;
const T = Date.UTC(2026, 0, 10, 12, 0, 0);
const EVERYTHING = 10_000_000;

function letters(count: number, receivedAt: number, label: string): DeadLetter[] {
  return Array.from({ length: count }, (_, i) => deadLetter({ receivedAt, detail: `${label} ${i}` }));
}

/** Ids of every letter, oldest (smallest id) first. */
async function ids(store: SqlReadingStore): Promise<bigint[]> {
  const rows = await store.recentDeadLetters(EVERYTHING);
  return rows.map((row) => BigInt(row.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Letters are shared by the tests of one driver: each starts from an empty table. */
async function empty(store: SqlReadingStore): Promise<void> {
  await store.pruneDeadLetters({ maxRows: 0, maxAgeMs: null });
  expect(await ids(store)).toEqual([]);
}

await describeEachStore('dead-letter retention', (ctx) => {
  it('keeps the newest maxRows letters and deletes the rest, oldest first, in bounded steps', async () => {
    await empty(ctx.store);
    for (let batch = 0; batch < 5; batch += 1) {
      await ctx.store.commit({ readings: [], deadLetters: letters(500, T + batch * 1000, `batch ${batch}`) });
    }
    const before = await ids(ctx.store);
    expect(before).toHaveLength(2500);

    // Three steps of 300: the run stops at its step limit and says there is more.
    const first = await ctx.store.pruneDeadLetters({ maxRows: 1000, maxAgeMs: null }, { stepRows: 300, maxSteps: 3 });
    expect(first).toEqual({ byAge: 0, byRows: 900, more: true });
    expect(await ids(ctx.store)).toEqual(before.slice(900));

    // The next run goes on, and ends with a short step.
    const second = await ctx.store.pruneDeadLetters({ maxRows: 1000, maxAgeMs: null }, { stepRows: 300 });
    expect(second).toEqual({ byAge: 0, byRows: 600, more: false });
    expect(await ids(ctx.store)).toEqual(before.slice(1500));

    // At the bound: nothing more to do.
    const third = await ctx.store.pruneDeadLetters({ maxRows: 1000, maxAgeMs: null }, { stepRows: 300 });
    expect(third).toEqual({ byAge: 0, byRows: 0, more: false });
    expect(await ids(ctx.store)).toHaveLength(1000);
  });

  it('deletes the letters older than the age bound and none newer, re-driven ones too', async () => {
    await empty(ctx.store);
    await ctx.store.commit({ readings: [], deadLetters: letters(7, T - 3 * HOUR, 'old') });
    const [redriven] = await ctx.store.recentDeadLetters(1);
    if (redriven === undefined) throw new Error('no letter stored');
    await registryStoreFor(ctx.store).markRedriven(redriven.id, 'accepted', T - 2 * HOUR);
    await ctx.store.commit({ readings: [], deadLetters: letters(5, T - HOUR - 1, 'just too old') });
    await ctx.store.commit({ readings: [], deadLetters: letters(4, T - HOUR, 'at the bound') });
    await ctx.store.commit({ readings: [], deadLetters: letters(6, T - 1000, 'fresh') });

    const outcome = await ctx.store.pruneDeadLetters({ maxRows: 1000, maxAgeMs: HOUR }, { now: T, stepRows: 5 });
    expect(outcome).toEqual({ byAge: 12, byRows: 0, more: false });
    const left = await ctx.store.recentDeadLetters(EVERYTHING);
    expect(left.map((row) => row.receivedAt).sort((a, b) => a - b)).toEqual([
      ...Array<number>(4).fill(T - HOUR),
      ...Array<number>(6).fill(T - 1000),
    ]);

    // No age bound: old letters stay (the row bound alone applies).
    await ctx.store.commit({ readings: [], deadLetters: letters(3, T - 100 * HOUR, 'ancient') });
    expect(await ctx.store.pruneDeadLetters({ maxRows: 1000, maxAgeMs: null }, { now: T })).toEqual({
      byAge: 0,
      byRows: 0,
      more: false,
    });
    expect(await ids(ctx.store)).toHaveLength(13);
  });

  it('applies both bounds in one run: age first, then rows', async () => {
    await empty(ctx.store);
    await ctx.store.commit({ readings: [], deadLetters: letters(30, T - 48 * HOUR, 'old') });
    await ctx.store.commit({ readings: [], deadLetters: letters(50, T, 'new') });
    const newest = (await ids(ctx.store)).slice(-20);
    const outcome = await ctx.store.pruneDeadLetters({ maxRows: 20, maxAgeMs: 24 * HOUR }, { now: T, stepRows: 7 });
    expect(outcome).toEqual({ byAge: 30, byRows: 30, more: false });
    expect(await ids(ctx.store)).toEqual(newest);
  });

  it('stops between steps when its signal is aborted (a closing store)', async () => {
    await empty(ctx.store);
    await ctx.store.commit({ readings: [], deadLetters: letters(50, T, 'kept') });
    const abort = new AbortController();
    abort.abort();
    const outcome = await ctx.store.pruneDeadLetters({ maxRows: 10, maxAgeMs: 0 }, { signal: abort.signal });
    expect(outcome).toEqual({ byAge: 0, byRows: 0, more: true });
    expect(await ids(ctx.store)).toHaveLength(50);
  });

  it('two prunes at once (two hubs) delete exactly what the bounds ask between them', async () => {
    await empty(ctx.store);
    for (let batch = 0; batch < 6; batch += 1) {
      await ctx.store.commit({ readings: [], deadLetters: letters(500, T + batch, `batch ${batch}`) });
    }
    const newest = (await ids(ctx.store)).slice(-1000);
    // PGlite is one process per data folder: the two prunes share its store (and interleave their steps).
    const other = ctx.driver.name === 'postgres' ? await ctx.driver.open() : ctx.store;
    try {
      const bounds = { maxRows: 1000, maxAgeMs: null };
      const outcomes = await Promise.all([
        ctx.store.pruneDeadLetters(bounds, { stepRows: 150 }),
        other.pruneDeadLetters(bounds, { stepRows: 150 }),
      ]);
      expect(outcomes.reduce((sum, o) => sum + o.byRows, 0)).toBe(2000);
      expect(await ids(ctx.store)).toEqual(newest);
    } finally {
      if (other !== ctx.store) await other.close();
    }
  });
});

describe('dead-letter retention on PGlite, which has no autovacuum', () => {
  let dataDir: string | undefined;
  let executor: SqlExecutor | undefined;
  afterAll(async () => {
    await executor?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('reuses the space of pruned letters: the table stops growing at its bound', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-dl-space-'));
    executor = await PgliteExecutor.open({ dataDir, thread: 'main' });
    const store = new SqlReadingStore(executor);
    await store.migrate();
    const size = async (): Promise<number> => {
      const [row] = await (executor as SqlExecutor).query(
        `SELECT pg_total_relation_size('dead_letters')::float8 AS bytes`,
      );
      return toNumber(row?.['bytes'], 'bytes');
    };
    const raw = new Uint8Array(600).fill(7);
    const sizes: number[] = [];
    for (let cycle = 0; cycle < 10; cycle += 1) {
      await store.commit({
        readings: [],
        deadLetters: Array.from({ length: 1500 }, (_, i) => deadLetter({ receivedAt: T + cycle, raw, detail: `${i}` })),
      });
      const outcome = await store.pruneDeadLetters({ maxRows: 1500, maxAgeMs: null });
      expect(outcome.byRows).toBe(cycle === 0 ? 0 : 1500);
      sizes.push(await size());
    }
    // The size swings (VACUUM also cuts empty pages off the end) but stops growing once deleted rows'
    // space is reused; without VACUUM every cycle added a cycle's worth of pages.
    const early = Math.max(...sizes.slice(2, 6));
    const late = Math.max(...sizes.slice(6));
    expect(late).toBeLessThanOrEqual(early * 1.1);
  });
});
