/**
 * The rollup journal on both drivers: a commit appends one journal row instead of upserting the
 * rollups; a flush folds journal rows into minute_buckets, minute_metrics and minute_rejects exactly
 * once; reads of the rollups see every acknowledged commit; rows left by a store that never flushed
 * (a crash, another hub) are folded by the next store that opens; sums that overflow a double do not
 * make flushes fail; per-reason reject counts survive a reopen.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { SqlExecutor, SqlTransaction } from '../../src/store/sql-executor.js';
import { SqlReadingStore } from '../../src/store/sql-store.js';
import { MAX_JOURNAL_ROW_ENTRIES } from '../../src/store/journal-codec.js';
import { JOURNAL_BYTES_PER_FLUSH } from '../../src/store/rollup-journal.js';
import { takeJournalRows } from '../../src/store/rollup-statements.js';
import { deadLetter, describeEachStore, freshDevice, reading } from './store-fixtures.js';

const MINUTE = 60_000;

await describeEachStore('rollup journal', (ctx) => {
  it('appends one journal row per commit and folds it once, before any read of the rollups', async () => {
    await ctx.store.flushRollups();
    expect(await ctx.store.rollupBacklog()).toBe(0);
    const device = freshDevice('journal');
    const base = Date.UTC(2025, 4, 1, 10, 0, 0);
    const before = await ctx.store.totals();
    await ctx.store.commit({
      readings: [1, 2, 3].map((seq) => reading({ device, seq, ts: base + seq, data: { t: seq } })),
      deadLetters: [],
    });
    await ctx.store.commit({ readings: [reading({ device, seq: 4, ts: base + 4, data: { t: 4 } })], deadLetters: [] });
    expect(await ctx.store.rollupBacklog()).toBe(2);

    // A read folds first: the acknowledged commits are in it.
    const [bucket] = await ctx.store.minuteBuckets(device, base, base + MINUTE);
    expect(bucket).toMatchObject({ valid: 4, invalid: 0, metrics: { t: { min: 1, max: 4, sum: 10, count: 4 } } });
    expect(await ctx.store.rollupBacklog()).toBe(0);
    expect((await ctx.store.totals()).valid - before.valid).toBe(4);

    // Folding again changes nothing: each journal row counted once.
    expect(await ctx.store.flushRollups()).toEqual({ folded: 0, quarantined: 0 });
    expect(await ctx.store.minuteBuckets(device, base, base + MINUTE)).toEqual([bucket]);
  });

  it('writes no journal row for a batch of resends only, and counts nothing twice', async () => {
    const device = freshDevice('resend');
    const base = Date.UTC(2025, 4, 1, 11, 0, 0);
    const batch = { readings: [reading({ device, seq: 1, ts: base })], deadLetters: [] };
    await ctx.store.commit(batch);
    await ctx.store.flushRollups();
    const result = await ctx.store.commit(batch);
    expect(result.inserted).toEqual([false]);
    expect(await ctx.store.rollupBacklog()).toBe(0);
    expect((await ctx.store.minuteBuckets(device, base, base + MINUTE))[0]?.valid).toBe(1);
  });

  it('folds journal rows a store left unflushed when the next store opens (crash or another hub)', async () => {
    const device = freshDevice('orphan');
    const base = Date.UTC(2025, 4, 1, 12, 0, 0);
    const before = await ctx.store.totals();
    await ctx.store.commit({
      readings: Array.from({ length: 50 }, (_, i) => reading({ device, seq: i, ts: base + i * 100, data: { x: 2 } })),
      deadLetters: [deadLetter({ receivedAt: base, device, reason: 'timestamp_out_of_range' })],
    });
    expect(await ctx.store.rollupBacklog()).toBe(1);
    // Abandon the store the way a killed process does: its journal row is committed, never folded.
    // (close() would fold it; closing only the connections leaves the row behind.)
    await abandon(ctx.store);
    ctx.store = await ctx.driver.open();
    expect(await ctx.store.rollupBacklog()).toBe(1);
    // Totals count the orphaned row before any fold (a restart behind a backlog seeds exact totals)...
    const after = await ctx.store.totals();
    expect(after.valid - before.valid).toBe(50);
    expect(after.invalid - before.invalid).toBe(1);
    expect(await ctx.store.rollupBacklog()).toBe(1);
    // ...and the same once it is folded.
    await ctx.store.flushRollups();
    expect(await ctx.store.rollupBacklog()).toBe(0);
    expect(await ctx.store.totals()).toEqual(after);
    const [bucket] = await ctx.store.minuteBuckets(device, base, base + MINUTE);
    expect(bucket).toMatchObject({ valid: 50, invalid: 1, metrics: { x: { sum: 100, count: 50 } } });
  });

  it('keeps folding when a metric sum overflows a double (stored as Infinity, never a failed flush)', async () => {
    const device = freshDevice('overflow');
    const base = Date.UTC(2025, 4, 1, 13, 0, 0);
    // One commit whose own sum overflows, then two whose sums overflow only when added in the database.
    await ctx.store.commit({
      readings: [1, 2].map((seq) => reading({ device, seq, ts: base + seq, data: { big: 1.7e308 } })),
      deadLetters: [],
    });
    await ctx.store.flushRollups();
    const other = freshDevice('overflow');
    for (const seq of [1, 2]) {
      await ctx.store.commit({
        readings: [reading({ device: other, seq, ts: base + seq, data: { big: 1.7e308, neg: -1.7e308 } })],
        deadLetters: [],
      });
      await ctx.store.flushRollups();
    }
    const [mine] = await ctx.store.minuteBuckets(device, base, base + MINUTE);
    expect(mine?.metrics['big']).toEqual({ min: 1.7e308, max: 1.7e308, sum: Infinity, count: 2 });
    const [theirs] = await ctx.store.minuteBuckets(other, base, base + MINUTE);
    expect(theirs?.metrics['big']?.sum).toBe(Infinity);
    expect(theirs?.metrics['neg']?.sum).toBe(-Infinity);
    expect(theirs?.valid).toBe(2);
    // And the store still commits and folds other data.
    const next = freshDevice('after-overflow');
    await ctx.store.commit({
      readings: [reading({ device: next, seq: 1, ts: base, data: { v: 1 } })],
      deadLetters: [],
    });
    expect((await ctx.store.minuteBuckets(next, base, base + MINUTE))[0]?.valid).toBe(1);
  });

  it('moves a journal row it cannot decode to rollup_quarantine and keeps folding the others', async () => {
    const device = freshDevice('poison');
    const base = Date.UTC(2025, 4, 1, 15, 0, 0);
    await ctx.store.flushRollups();
    const sql = executorOf(ctx.store);
    // A row another version might write: an entry one field wider than this code knows.
    await sql.query(`INSERT INTO rollup_pending (deltas) VALUES ($1::json)`, [
      JSON.stringify({ b: [[device, base, 5, 0, 'extra']], m: [], r: [] }),
    ]);
    await ctx.store.commit({ readings: [reading({ device, seq: 1, ts: base, data: { v: 1 } })], deadLetters: [] });
    // The read is not blocked by the bad row, and the good row behind it is folded.
    expect((await ctx.store.minuteBuckets(device, base, base + MINUTE))[0]?.valid).toBe(1);
    expect(await ctx.store.rollupBacklog()).toBe(0);
    const kept = await sql.query('SELECT deltas, error FROM rollup_quarantine');
    expect(kept).toHaveLength(1);
    expect(String(kept[0]?.['deltas'])).toContain('extra');
    expect(String(kept[0]?.['error'])).toMatch(/rollup journal row is malformed/);
  });

  it('moves a journal row whose fold PostgreSQL refuses for good to rollup_quarantine and folds the rest', async () => {
    const device = freshDevice('refused');
    const base = Date.UTC(2025, 4, 1, 17, 0, 0);
    await ctx.store.flushRollups();
    const sql = executorOf(ctx.store);
    // A metric name over the index's 2704-byte entry limit (incompressible), as a build before the
    // metric-name bound could journal: PostgreSQL refuses its upsert with SQLSTATE 54000 every time.
    const longName = randomBytes(2700).toString('base64').slice(0, 3500);
    await ctx.store.commit({ readings: [reading({ device, seq: 1, ts: base, data: { v: 1 } })], deadLetters: [] });
    await sql.query(`INSERT INTO rollup_pending (deltas) VALUES ($1::json)`, [
      JSON.stringify({ b: [[device, base, 1, 0]], m: [[device, base, longName, 5, 5, 5, 1]], r: [] }),
    ]);
    await ctx.store.commit({ readings: [reading({ device, seq: 2, ts: base + 1, data: { v: 2 } })], deadLetters: [] });
    expect(await ctx.store.flushRollups()).toEqual({ folded: 2, quarantined: 1 });
    expect(await ctx.store.rollupBacklog()).toBe(0);
    const [bucket] = await ctx.store.minuteBuckets(device, base, base + MINUTE);
    expect(bucket).toMatchObject({ valid: 2, metrics: { v: { min: 1, max: 2, sum: 3, count: 2 } } });
    const kept = await sql.query('SELECT deltas, error FROM rollup_quarantine WHERE deltas::text LIKE $1', [
      `%${device}%`,
    ]);
    expect(kept).toHaveLength(1);
    expect(String(kept[0]?.['error'])).toMatch(/the rollups refused it: .*54000/);
    // Later flushes are not blocked.
    await ctx.store.commit({ readings: [reading({ device, seq: 3, ts: base + 2, data: { v: 3 } })], deadLetters: [] });
    expect(await ctx.store.flushRollups()).toEqual({ folded: 1, quarantined: 0 });
  });

  it('counts refusals per reason, across a reopen', async () => {
    const base = Date.UTC(2025, 4, 1, 14, 0, 0);
    const before = await ctx.store.rejectTotals();
    await ctx.store.commit({
      readings: [],
      deadLetters: [
        deadLetter({ receivedAt: base, reason: 'replayed_frame' }),
        deadLetter({ receivedAt: base + 1, reason: 'replayed_frame', device: freshDevice('rej') }),
        deadLetter({ receivedAt: base + MINUTE, reason: 'unknown_key' }),
      ],
    });
    await ctx.store.close();
    ctx.store = await ctx.driver.open();
    const after = await ctx.store.rejectTotals();
    expect((after['replayed_frame'] ?? 0) - (before['replayed_frame'] ?? 0)).toBe(2);
    expect((after['unknown_key'] ?? 0) - (before['unknown_key'] ?? 0)).toBe(1);
  });

  it('counts journal rows not yet folded in the totals and per-reason counts, and skips rows a fold would quarantine', async () => {
    const device = freshDevice('unfolded');
    const base = Date.UTC(2025, 4, 1, 16, 0, 0);
    await ctx.store.flushRollups();
    const [totalsBefore, rejectsBefore] = [await ctx.store.totals(), await ctx.store.rejectTotals()];
    const sql = executorOf(ctx.store);
    // Shapes another version might write: a fold quarantines them, so no total may count them.
    await sql.query(`INSERT INTO rollup_pending (deltas) VALUES ($1::json), ($2::json)`, [
      JSON.stringify({ b: [[device, base, 7, 1, 'extra']], m: [], r: [[device, base, 'unknown_key', 3, 'extra']] }),
      JSON.stringify([1, 2, 3]),
    ]);
    await ctx.store.commit({
      readings: Array.from({ length: 20 }, (_, i) => reading({ device, seq: i, ts: base + i, data: { v: i } })),
      deadLetters: [
        deadLetter({ receivedAt: base, device, reason: 'unknown_key' }),
        deadLetter({ receivedAt: base + 1, device, reason: 'unknown_key' }),
        deadLetter({ receivedAt: base + 2, reason: 'integrity_failed' }),
      ],
    });
    expect(await ctx.store.rollupBacklog()).toBe(3);
    const totals = await ctx.store.totals();
    const rejects = await ctx.store.rejectTotals();
    expect(totals.valid - totalsBefore.valid).toBe(20);
    expect(totals.invalid - totalsBefore.invalid).toBe(3);
    expect((rejects['unknown_key'] ?? 0) - (rejectsBefore['unknown_key'] ?? 0)).toBe(2);
    expect((rejects['integrity_failed'] ?? 0) - (rejectsBefore['integrity_failed'] ?? 0)).toBe(1);
    expect(await ctx.store.rollupBacklog()).toBe(3);
    // Folded, the good row's counts move to the rollups and the others to quarantine: the same totals.
    await ctx.store.flushRollups();
    expect(await ctx.store.rollupBacklog()).toBe(0);
    expect(await ctx.store.totals()).toEqual(totals);
    expect(await ctx.store.rejectTotals()).toEqual(rejects);
  });

  it('splits a commit of many minutes and metrics into bounded journal rows and folds them exactly', async () => {
    await ctx.store.flushRollups();
    const device = freshDevice('wide');
    const base = Date.UTC(2025, 4, 2, 0, 0, 0);
    // Every reading in its own minute, 64 metrics each: 1 300 readings make 84 500 entries.
    const count = 1_300;
    const data = (seq: number): Record<string, number> =>
      Object.fromEntries(Array.from({ length: 64 }, (_, m) => [`m${m}`, seq + m]));
    await ctx.store.commit({
      readings: Array.from({ length: count }, (_, seq) =>
        reading({ device, seq, ts: base + seq * MINUTE, data: data(seq) }),
      ),
      deadLetters: [],
    });
    const rows = Math.ceil((count * 65) / MAX_JOURNAL_ROW_ENTRIES);
    expect(await ctx.store.rollupBacklog()).toBe(rows);
    expect((await ctx.store.flushRollups()).folded).toBe(rows);
    expect(await ctx.store.rollupBacklog()).toBe(0);
    const buckets = await ctx.store.minuteBuckets(device, base, base + count * MINUTE);
    expect(buckets).toHaveLength(count);
    expect(buckets.every((bucket) => bucket.valid === 1)).toBe(true);
    expect(buckets[700]?.metrics['m63']).toEqual({ min: 763, max: 763, sum: 763, count: 1 });
  });

  it('holds commits for a flush once the journal is past its bound (backpressure, never an unbounded backlog)', async () => {
    await ctx.store.flushRollups();
    // A second store on the same connections, with a bound of ~50 KB of deltas.
    const bounded = new SqlReadingStore(executorOf(ctx.store) as unknown as SqlExecutor, {
      journalBacklogBytes: 50_000,
    });
    const device = freshDevice('bound');
    const base = Date.UTC(2025, 4, 3, 0, 0, 0);
    const wideCommit = (n: number) => ({
      readings: Array.from({ length: 200 }, (_, i) =>
        reading({ device, seq: n * 200 + i, ts: base + (n * 200 + i) * MINUTE, data: { a: 1, b: 2, c: 3 } }),
      ),
      deadLetters: [],
    });
    // 200 readings in 200 minutes, 3 metrics: 800 entries, ~30 KB per commit.
    await bounded.commit(wideCommit(0));
    await bounded.commit(wideCommit(1));
    expect(await bounded.rollupBacklog()).toBe(2); // 60 KB: past the bound, nothing folded yet
    await bounded.commit(wideCommit(2)); // waits for a flush of the two before it
    expect(await bounded.rollupBacklog()).toBe(1);
    await bounded.flushRollups();
    const buckets = await bounded.minuteBuckets(device, base, base + 600 * MINUTE);
    expect(buckets.reduce((sum, bucket) => sum + bucket.valid, 0)).toBe(600);
  });

  it('on PGlite (no autovacuum) vacuums the journal, so the space of folded rows is reused', async () => {
    if (ctx.store.kind !== 'pglite') return; // a PostgreSQL server's autovacuum does this
    const sql = executorOf(ctx.store) as unknown as SqlExecutor;
    const journalBytes = async (): Promise<number> =>
      Number((await sql.query(`SELECT pg_relation_size('rollup_pending')::float8 AS bytes`))[0]?.['bytes']);
    const device = freshDevice('vacuum');
    const base = Date.UTC(2025, 4, 4, 0, 0, 0);
    const run = async (store: SqlReadingStore, from: number): Promise<void> => {
      for (let n = from; n < from + 600; n += 1) {
        // Ten devices, two metrics: a journal row of ~1 KB, like a commit of a small fleet.
        await store.commit({
          readings: Array.from({ length: 10 }, (_, d) =>
            reading({ device: `${device}-${d}`, seq: n, ts: base + n, data: { a: n, b: d } }),
          ),
          deadLetters: [],
        });
        if (n % 20 === 19) await store.flushRollups();
      }
      await store.flushRollups();
    };
    // With one VACUUM at most (a new store vacuums on its first flush, then not again within the hour) the
    // journal grows ~1 KB a commit, folded or not.
    await ctx.store.flushRollups();
    await sql.write('VACUUM rollup_pending');
    const start = await journalBytes();
    await run(new SqlReadingStore(sql, { journalVacuumIntervalMs: 3_600_000 }), 0);
    const grown = (await journalBytes()) - start;
    expect(grown).toBeGreaterThan(300_000);
    // With it (every flush here), the same traffic adds next to nothing.
    await sql.write('VACUUM rollup_pending');
    const before = await journalBytes();
    await run(new SqlReadingStore(sql, { journalVacuumIntervalMs: 0 }), 600);
    expect((await journalBytes()) - before).toBeLessThan(grown / 10);
  });

  it('takes journal rows up to a byte budget per step, always at least one', async () => {
    await ctx.store.flushRollups();
    const sql = executorOf(ctx.store);
    const row = (n: number): string => JSON.stringify({ b: [], m: [], r: [], pad: 'x'.repeat(n) });
    const size = Math.floor(JOURNAL_BYTES_PER_FLUSH * 0.4);
    await sql.query(
      'INSERT INTO rollup_pending (deltas) VALUES ($1::json), ($2::json), ($3::json), ($4::json), ($5::json)',
      [row(size), row(size), row(size), row(size), row(JOURNAL_BYTES_PER_FLUSH * 2)],
    );
    const takeStep = (): Promise<number> =>
      sql.transaction(async (tx) => {
        const take = takeJournalRows(100, JOURNAL_BYTES_PER_FLUSH);
        return (await tx.query(take.text, take.params)).length;
      });
    // 0, 0.4 and 0.8 of the budget were taken before each of the first three: three rows, not the
    // fourth (1.2 before it). Then the fourth and the oversized fifth (0.4 before it); then nothing.
    expect(await takeStep()).toBe(3);
    expect(await takeStep()).toBe(2);
    expect(await takeStep()).toBe(0);
  });
});

interface RawExecutor {
  query(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The store's own connection, for writing what this code never writes (a foreign journal row). */
function executorOf(store: object): RawExecutor {
  const executor = (store as { executor?: RawExecutor }).executor;
  if (executor === undefined) throw new Error('the store has no executor');
  return executor;
}

/** Closes a store's database connections without the last flush close() does (what a crash leaves). */
async function abandon(store: object): Promise<void> {
  await executorOf(store).close();
}
