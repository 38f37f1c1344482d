/** Starts a real hub in-process on ephemeral ports, on PGlite (temp dir) or the local PostgreSQL server (fresh schema). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';
import { startHub, type RunningHub } from '../../src/cli/start-hub.js';
import { legacyOpenWorkerUrl } from './legacy-worker-bundle.js';
import { pgTestUrl } from './postgres.js';

export const TEST_KEY_ID = 'test-key';
export const TEST_SECRET = Buffer.alloc(32, 7);
export const DEVICE_KEY_ID = 'd1-key';
export const DEVICE_SECRET = Buffer.alloc(32, 9);
export const LEGACY_ENCRYPTION_KEY = 'encrypted-timeseries-secret-key-12345';
export const LEGACY_AUTH_TOKEN = 'test-auth-token';
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdef-0123456789';

export type StoreKind = 'pglite' | 'postgres';

export interface TestHub {
  readonly hub: RunningHub;
  stop(): Promise<void>;
}

/**
 * `joinSchema` (postgres): run on that existing schema, as a second hub of a cluster; its stop() leaves
 * the schema to the hub that made it.
 */
export async function startTestHub(kind: StoreKind, extraArgs: string[] = [], joinSchema?: string): Promise<TestHub> {
  let dataDir: string | undefined;
  let schema: string | undefined;
  const args = ['--http-port', '0', '--tcp-port', '0', '--legacy-port', '0', '--log-level', 'silent', ...extraArgs];
  if (kind === 'pglite') {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-hub-'));
    args.push('--data-dir', dataDir);
  } else {
    schema = joinSchema ?? `t_${randomBytes(6).toString('hex')}`;
    args.push('--database-url', pgTestUrl(), '--database-schema', schema);
    if (joinSchema !== undefined) schema = undefined;
  }
  const loaded = loadConfig(
    args,
    {
      SEALSTREAM_DEVICE_KEYS: `${TEST_KEY_ID}:${TEST_SECRET.toString('hex')},${DEVICE_KEY_ID}:${DEVICE_SECRET.toString('hex')}:d1`,
      ENCRYPTION_KEY: LEGACY_ENCRYPTION_KEY,
      AUTH_TOKEN: LEGACY_AUTH_TOKEN,
      SEALSTREAM_JWT_SECRET: TEST_JWT_SECRET,
    },
    DEMO_DEFAULTS,
  );
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const hub = await startHub(loaded.config, {
    logger: pino({ level: 'silent' }),
    dashboardDir: undefined,
    legacyWorkerUrl: await legacyOpenWorkerUrl(),
  });
  return {
    hub,
    async stop() {
      await hub.close();
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
      if (schema !== undefined) {
        const client = new pg.Client({ connectionString: pgTestUrl() });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}
