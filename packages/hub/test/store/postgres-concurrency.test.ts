/**
 * What only a PostgreSQL server can show: several processes (here, several stores with their own
 * pools) migrating, creating partitions and committing overlapping batches at the same time, and a
 * partition cache made stale by another process's retention drop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import {
  dropTestSchema,
  failIfRequired,
  pgAvailability,
  pgRequired,
  pgTestUrl,
  uniqueTestSchema,
} from '../support/postgres.js';
import { freshDevice, reading } from './store-fixtures.js';

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip)
  console.warn(`[store tests] postgres concurrency skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(
  `ReadingStore on postgres, several processes${skip ? ' (skipped: server unreachable)' : ''}`,
  () => {
    const schema = uniqueTestSchema();
    const stores: SqlReadingStore[] = [];
    const open = async (): Promise<SqlReadingStore> => {
      const store = await openStore({ kind: 'postgres', url: pgTestUrl(), schema, poolSize: 2 });
      stores.push(store);
      return store;
    };

    beforeAll(() => {
      failIfRequired(availability);
    });

    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      if (availability.available) await dropTestSchema(schema);
    });

    it('lets several stores open the same new schema and migrate it at once', async () => {
      const opened = await Promise.all([open(), open(), open()]);
      await Promise.all(opened.map((s) => s.migrate()));
      await Promise.all(opened.map((s) => s.migrate()));
      expect((await Promise.all(opened.map((s) => s.totals()))).every((t) => t.valid === 0)).toBe(true);
    });

    it('creates the same new day partition from two stores at once and inserts each key exactly once', async () => {
      const [a, b] = stores;
      if (a === undefined || b === undefined) throw new Error('previous test opens the stores');
      const device = freshDevice('race');
      const base = Date.UTC(2025, 0, 20, 7);
      const batch = {
        readings: Array.from({ length: 500 }, (_, i) =>
          reading({ device, seq: i, ts: base + i * 1_000, data: { n: 1 } }),
        ),
        deadLetters: [],
      };
      const [ra, rb] = await Promise.all([a.commit(batch), b.commit(batch)]);
      const insertedBoth = ra.inserted.map((x, i) => Number(x) + Number(rb.inserted[i]));
      expect(insertedBoth.every((n) => n === 1)).toBe(true);
      expect((await a.totals()).valid).toBe(500);
      const buckets = await b.minuteBuckets(device, base, base + 3_600_000);
      expect(buckets.reduce((n, bucket) => n + (bucket.metrics['n']?.sum ?? 0), 0)).toBe(500);
    });

    it('counts every commit once in the rollups while several stores commit and flush at the same time', async () => {
      const [a, b] = stores;
      if (a === undefined || b === undefined) throw new Error('first test opens the stores');
      const c = await open();
      const device = freshDevice('flushers');
      const base = Date.UTC(2025, 1, 3, 9);
      const before = (await a.minuteBuckets(device, base, base + 3_600_000)).length;
      expect(before).toBe(0);
      let seq = 0;
      const commitLoop = async (store: SqlReadingStore): Promise<void> => {
        for (let i = 0; i < 30; i += 1) {
          const first = seq;
          seq += 7;
          await store.commit({
            readings: Array.from({ length: 7 }, (_, k) =>
              reading({ device, seq: first + k, ts: base + ((first + k) % 600) * 1_000, data: { n: 1 } }),
            ),
            deadLetters: [],
          });
          if (i % 3 === 0) await store.flushRollups();
        }
      };
      let flushing = true;
      const flushLoop = async (store: SqlReadingStore): Promise<void> => {
        while (flushing) await store.flushRollups();
      };
      const flushers = [flushLoop(a), flushLoop(c)];
      await Promise.all([commitLoop(a), commitLoop(b), commitLoop(c)]);
      flushing = false;
      await Promise.all(flushers);
      const buckets = await b.minuteBuckets(device, base, base + 3_600_000);
      expect(buckets.reduce((n, bucket) => n + bucket.valid, 0)).toBe(3 * 30 * 7);
      expect(buckets.reduce((n, bucket) => n + (bucket.metrics['n']?.count ?? 0), 0)).toBe(3 * 30 * 7);
      expect(await b.rollupBacklog()).toBe(0);
    });

    it('recovers when another store dropped a partition this one had cached', async () => {
      const [a, b] = stores;
      if (a === undefined || b === undefined) throw new Error('first test opens the stores');
      const device = freshDevice('stale');
      const ts = Date.UTC(2002, 5, 6, 12);
      expect((await a.commit({ readings: [reading({ device, seq: 1, ts })], deadLetters: [] })).inserted).toEqual([
        true,
      ]);
      expect(await b.dropPartitionsBefore(Date.UTC(2002, 5, 7))).toEqual(['readings_p20020606']);
      // a still believes the day exists; its insert hits "no partition" once, forgets the cache and retries.
      expect((await a.commit({ readings: [reading({ device, seq: 2, ts })], deadLetters: [] })).inserted).toEqual([
        true,
      ]);
      expect((await b.readings(device, ts, ts + 1, 10)).map((r) => r.seq)).toEqual([2]);
    });
  },
);

describe('ReadingStore on an unreachable server', () => {
  it('fails calls with an error that names the failure and not the URL', async () => {
    const store = await openStore({
      kind: 'postgres',
      url: 'postgres://someone:hunter2@127.0.0.1:1/nowhere',
      connectTimeoutMs: 2_000,
    });
    try {
      const failure = await store
        .commit({ readings: [reading({ device: 'd', seq: 1, ts: Date.UTC(2025, 0, 1) })], deadLetters: [] })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(/^store commit failed: ECONNREFUSED/);
      expect((failure as Error).message).not.toContain('hunter2');
      await expect(store.ping()).rejects.toThrow(/^store ping failed: /);
    } finally {
      await store.close();
    }
  });
});
