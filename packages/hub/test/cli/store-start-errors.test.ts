/**
 * A store that cannot start says why in words, with the server's host:port, the database and the user,
 * never the password: against a port nothing listens on, a database that does not exist and a role that
 * does not exist on the local PostgreSQL server (skipped with the reason when it is missing, failed on CI).
 */
import { StoreError } from '../../src/pipeline/store-error.js';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeStoreStartFailure, describeTarget, openAndMigrate } from '../../src/cli/store-start-errors.js';
import { failIfRequired, pgAvailability, pgTestUrl, type PgAvailability } from '../support/postgres.js';

/** A loopback port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startFailure(url: string): Promise<string> {
  try {
    const store = await openAndMigrate({ kind: 'postgres', url }, { kind: 'postgres', url, poolSize: 1 });
    await store.close();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the store started');
}

describe('describeTarget', () => {
  it('names host:port, database and user, never the password', () => {
    expect(describeTarget({ url: 'postgres://app:s3cret-pw@db.example:6543/telemetry' })).toBe(
      'db.example:6543 (database telemetry, user app)',
    );
    expect(describeTarget({ url: 'postgresql://127.0.0.1/test', schema: 'hub' })).toBe(
      '127.0.0.1:5432 (database test, schema hub)',
    );
    expect(describeTarget({ url: 'postgres://bob@localhost/?host=/var/run/postgresql' })).toBe(
      '/var/run/postgresql:5432 (database bob, user bob)',
    );
  });

  it('words socket errors and SQLSTATEs, also when the store wrapped them', () => {
    const url = 'postgres://app:pw@127.0.0.1:5999/test';
    expect(describeStoreStartFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), { url })).toBe(
      'cannot connect to PostgreSQL at 127.0.0.1:5999 (database test, user app): connection refused (is the server running and listening there?) (ECONNREFUSED)',
    );
    const wrapped = new StoreError('store_defect', 'store migrate failed: SQLSTATE 3D000', '3D000');
    expect(describeStoreStartFailure(wrapped, { url })).toContain('the database does not exist (3D000)');
    const refused = new StoreError(
      'store_unavailable',
      'store migrate failed: ECONNREFUSED',
      undefined,
      'ECONNREFUSED',
    );
    expect(describeStoreStartFailure(refused, { url })).toContain('connection refused');
    const leaky = describeStoreStartFailure(new Error(`odd failure at ${url}`), { url });
    expect(leaky).not.toContain(':pw@');
  });
});

describe('opening a PostgreSQL store that cannot start', () => {
  let pg: PgAvailability = { available: false, reason: 'not probed' };
  beforeAll(async () => {
    pg = await pgAvailability();
    failIfRequired(pg);
  });

  it('a port nothing listens on: connection refused, with the server and database', async () => {
    const port = await closedPort();
    const message = await startFailure(`postgres://someone:hunter2-pw@127.0.0.1:${port}/test`);
    expect(message).toBe(
      `cannot connect to PostgreSQL at 127.0.0.1:${port} (database test, user someone): connection refused (is the server running and listening there?) (ECONNREFUSED)`,
    );
    expect(message).not.toContain('hunter2');
  });

  it('a database that does not exist, and a role that does not exist, in words', async (context) => {
    if (!pg.available) return context.skip(pg.reason);
    const server = new URL(pgTestUrl());
    const where = `${server.hostname}:${server.port || '5432'}`;
    const database = `nope_${randomBytes(4).toString('hex')}`;
    const noDb = new URL(pgTestUrl());
    noDb.pathname = `/${database}`;
    expect(await startFailure(noDb.toString())).toMatch(
      new RegExp(
        `^cannot connect to PostgreSQL at ${where} \\(database ${database}.*\\): the database does not exist \\(3D000\\)$`,
      ),
    );
    const noRole = new URL(pgTestUrl());
    noRole.username = `nobody_${randomBytes(4).toString('hex')}`;
    noRole.password = 'not-a-real-pw';
    const refused = await startFailure(noRole.toString());
    expect(refused).toMatch(
      new RegExp(
        `^cannot connect to PostgreSQL at ${where} \\(database .*user ${noRole.username}\\): .+ \\((28000|28P01)\\)$`,
      ),
    );
    expect(refused).not.toContain('not-a-real-pw');
  });
});
