/**
 * Test access to the local PostgreSQL server: its URL (SEALSTREAM_TEST_PG_URL or the local default),
 * whether it answers, and throwaway schemas so each run is isolated. Suites skip with a visible reason
 * when the server is missing, except under CI, where they must fail instead (see `failIfRequired`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DEFAULT_TEST_URL = 'postgres://postgres@127.0.0.1:5432/test';
const PROBE_TIMEOUT_MS = 3_000;

export type PgAvailability = { available: true } | { available: false; reason: string };

export function pgTestUrl(): string {
  return process.env['SEALSTREAM_TEST_PG_URL'] ?? DEFAULT_TEST_URL;
}

/** True when a missing server must fail the run rather than skip (CI promises a server). */
export function pgRequired(): boolean {
  return process.env['CI'] === 'true';
}

/** Connects once and runs SELECT 1; the reason names the failure without the URL's credentials. */
export async function pgAvailability(): Promise<PgAvailability> {
  const client = new pg.Client({ connectionString: pgTestUrl(), connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { available: true };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const what = typeof code === 'string' ? code : error instanceof Error ? error.message : 'unknown error';
    return { available: false, reason: `PostgreSQL test server unreachable (${what})` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Throws when the server is required (CI) but unavailable; call it from beforeAll. */
export function failIfRequired(availability: PgAvailability): void {
  if (!availability.available && pgRequired()) {
    throw new Error(`${availability.reason}; CI=true requires it (set SEALSTREAM_TEST_PG_URL)`);
  }
}

/** A fresh schema name, e.g. t_3f9a0c1d2e4b; valid for the store's `schema` option. */
export function uniqueTestSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function dropTestSchema(schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error('dropTestSchema: unexpected schema name');
  const client = new pg.Client({ connectionString: pgTestUrl(), connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
