/**
 * A database URL that carries its own `options` must not drop the schema the store was given: pg lets
 * URL parameters override the pool's settings, and a store opened that way migrated into `public`.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresExecutor, withSearchPath } from '../../src/store/postgres-executor.js';
import {
  dropTestSchema,
  failIfRequired,
  pgAvailability,
  pgRequired,
  pgTestUrl,
  uniqueTestSchema,
} from '../support/postgres.js';

describe('withSearchPath', () => {
  it('adds the schema to a URL without options, and after options the URL has', () => {
    const plain = new URL(withSearchPath('postgres://u@h:5432/db', 's1') as string);
    expect(plain.searchParams.get('options')).toBe('-c search_path=s1');
    const own = new URL(
      withSearchPath('postgres://u@h:5432/db?options=-c%20work_mem%3D8MB&sslmode=disable', 's1') as string,
    );
    expect(own.searchParams.get('options')).toBe('-c work_mem=8MB -c search_path=s1');
    expect(own.searchParams.get('sslmode')).toBe('disable');
  });

  it('keeps the last of several options, as pg reads them', () => {
    const url = new URL(withSearchPath('postgres://u@h/db?options=-c%20a%3D1&options=-c%20b%3D2', 's1') as string);
    expect(url.searchParams.getAll('options')).toEqual(['-c b=2 -c search_path=s1']);
  });

  it('leaves alone what the URL parser cannot rewrite the way pg reads it', () => {
    // Credentials with an empty host (a Unix socket in ?host=), a bare % in a password, not a URL at all.
    expect(withSearchPath('postgres://u:pass@/db?host=/var/run/postgresql', 's1')).toBeNull();
    expect(withSearchPath('postgres://u:50%off@h/db', 's1')).toBeNull();
    expect(withSearchPath('host=h password=secret', 's1')).toBeNull();
  });
});

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip) console.warn(`[store tests] URL options skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`PostgresExecutor with options in the URL${skip ? ' (skipped: server unreachable)' : ''}`, () => {
  const schema = uniqueTestSchema('opt');
  beforeAll(() => failIfRequired(availability));
  afterAll(async () => {
    if (availability.available) await dropTestSchema(schema);
  });

  it('keeps both the URL options and the store schema', async () => {
    const url = new URL(pgTestUrl());
    url.searchParams.set('options', '-c work_mem=7MB');
    const executor = await PostgresExecutor.open({ url: url.toString(), schema, poolSize: 1 });
    try {
      const [row] = await executor.query(
        "SELECT current_setting('work_mem') AS work_mem, current_setting('search_path') AS search_path",
      );
      expect(row).toEqual({ work_mem: '7MB', search_path: schema });
      await executor.write('CREATE TABLE url_options_probe (n int)');
    } finally {
      await executor.close();
    }
    const client = new pg.Client({ connectionString: pgTestUrl() });
    await client.connect();
    try {
      const found = await client.query<{ schema: string }>(
        "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'url_options_probe'",
      );
      expect(found.rows.map((r) => r.schema)).toEqual([schema]);
    } finally {
      await client.end();
    }
  });
});
