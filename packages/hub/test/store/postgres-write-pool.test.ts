/**
 * On a PostgreSQL server the write pool is open before the first commit: every one of its connections
 * is connected right after the store opens, so the first commits after a start do not each wait for a
 * new connection. A server that cannot be reached does not fail the open (postgres-concurrency.test.ts).
 */
import { randomUUID } from 'node:crypto';
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

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip) console.warn(`[store tests] write pool skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`postgres write pool${skip ? ' (skipped: server unreachable)' : ''}`, () => {
  const schema = uniqueTestSchema();
  const applicationName = `sealstream-pool-${randomUUID().slice(0, 8)}`;
  let store: SqlReadingStore | undefined;
  let observer: pg.Client;

  beforeAll(async () => {
    failIfRequired(availability);
    observer = new pg.Client({ connectionString: pgTestUrl() });
    await observer.connect();
  });

  afterAll(async () => {
    await store?.close();
    await observer?.end().catch(() => undefined);
    if (availability.available) await dropTestSchema(schema);
  });

  it('connects every write connection when the store opens, before any statement needs one', async () => {
    const url = new URL(pgTestUrl());
    url.searchParams.set('application_name', applicationName);
    store = await openStore({ kind: 'postgres', url: url.toString(), schema, poolSize: 3 });
    const backends = async (): Promise<number> => {
      const result = await observer.query<{ count: string }>(
        'SELECT count(*) AS count FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      return Number(result.rows[0]?.count);
    };
    // Three write connections, opened in the background right after the open; the read pool connects
    // on its first read. No statement ran meanwhile.
    const until = Date.now() + 5_000;
    while ((await backends()) < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await backends()).toBe(3);
  });
});
