/**
 * On a PostgreSQL server, reads and writes have separate connection budgets: API reads stuck on the
 * server (here, behind a lock another session holds) take only the read pool's connections, a commit
 * still completes on the write pool, reads beyond the budget are refused at once or after their wait
 * bound, and the read pool's statement_timeout ends the stuck read.
 */
import pg from 'pg';
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
if (skip) console.warn(`[store tests] read pool skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`postgres read pool${skip ? ' (skipped: server unreachable)' : ''}`, () => {
  const schema = uniqueTestSchema();
  let store: SqlReadingStore;
  let locker: pg.Client;

  beforeAll(async () => {
    failIfRequired(availability);
    store = await openStore({
      kind: 'postgres',
      url: pgTestUrl(),
      schema,
      poolSize: 2,
      reads: { poolSize: 2, maxWaiting: 1, maxWaitMs: 400, timeoutMs: 3_000 },
    });
    await store.migrate();
    locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await store?.close();
    if (availability.available) await dropTestSchema(schema);
  });

  it('a commit completes while reads hold the read pool; excess reads get reads_busy; the stuck ones time out', async () => {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${schema}.dead_letters IN ACCESS EXCLUSIVE MODE`);
    const page = () => store.deadLetterPage({ filter: {}, limit: 10, before: null });
    const settle = <T>(promise: Promise<T>) =>
      promise.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    try {
      // Two reads take the read pool's two connections and wait on the lock; one more waits its turn;
      // the rest are refused at once. Before the read pool, these took every connection commits needed.
      const stuck = [settle(page()), settle(page())];
      const queued = settle(page());
      const refused = await settle(page());
      expect(refused.ok).toBe(false);
      expect(refused.ok ? null : refused.error).toMatchObject({ name: 'ReadsBusyError', why: 'queue_full' });

      const device = freshDevice('readpool');
      const ts = Date.UTC(2025, 1, 2, 3, 4);
      const started = Date.now();
      const result = await store.commit({ readings: [reading({ device, seq: 1, ts })], deadLetters: [] });
      expect(result.inserted).toEqual([true]);
      expect(Date.now() - started).toBeLessThan(2_000);

      const waited = await queued;
      expect(waited.ok ? null : waited.error).toMatchObject({ name: 'ReadsBusyError', why: 'wait_timeout' });
      for (const outcome of await Promise.all(stuck)) {
        expect(outcome.ok ? null : outcome.error).toMatchObject({ name: 'ReadsBusyError', why: 'read_timeout' });
      }
    } finally {
      await locker.query('ROLLBACK');
    }
    // The budget is whole again.
    expect((await store.deadLetterPage({ filter: {}, limit: 10, before: null })).items).toEqual([]);
    expect(store.readLoad()).toEqual({ running: 0, waiting: 0 });
  }, 30_000);
});
