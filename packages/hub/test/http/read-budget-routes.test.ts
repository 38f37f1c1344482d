/**
 * Reads beyond the read budget are answered 503 `reads_busy` with Retry-After at once, instead of
 * waiting for ever behind reads the server is stuck on (here, behind a lock another session holds).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability, pgRequired, pgTestUrl } from '../support/postgres.js';

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip) console.warn(`[http tests] read budget skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`API reads over the read budget${skip ? ' (skipped: server unreachable)' : ''}`, () => {
  let api: ApiHarness;
  let locker: pg.Client;

  beforeAll(async () => {
    failIfRequired(availability);
    api = await startApiHarness('postgres', { storeReads: { poolSize: 1, maxWaiting: 0, maxWaitMs: 2_000 } });
    locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await api?.stop();
  });

  it('answers 503 reads_busy with Retry-After while the read slot is held, and serves again after', async () => {
    const schema = (
      await locker.query<{ s: string }>(
        `SELECT nspname AS s FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
       WHERE c.relname = 'dead_letters' ORDER BY n.oid DESC LIMIT 1`,
      )
    ).rows[0]?.s;
    expect(schema).toBeDefined();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${schema}.dead_letters IN ACCESS EXCLUSIVE MODE`);
    const path = '/api/v1/dead-letters?limit=5';
    let held: Promise<{ status: number }> | undefined;
    try {
      held = call(api.base, 'GET', path, { token: api.tokens.viewer });
      // Let the first request reach the store and take the one read slot.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      const busy = await call(api.base, 'GET', path, { token: api.tokens.viewer });
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe('2');
      expect(busy.body).toMatchObject({ error: { code: 'reads_busy', details: { why: 'queue_full' } } });
    } finally {
      await locker.query('ROLLBACK');
    }
    expect((await held)?.status).toBe(200);
    expect((await call(api.base, 'GET', path, { token: api.tokens.viewer })).status).toBe(200);
  }, 30_000);
});
