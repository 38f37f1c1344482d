/**
 * How `sealstream serve` ends when its store does not answer: the orderly close (commit what is queued,
 * close the store) is bounded by --shutdown-timeout-ms, and a second signal a moment later exits at
 * once. The store is made to hang by locking the hub's readings table on the real PostgreSQL server,
 * so a commit waits inside the database. Either way nothing acknowledged is lost: the device resends
 * what was not, and a restarted hub stores it exactly once.
 *
 * Needs `npm run build` and PostgreSQL; skipped with the reason when either is missing, failed on CI.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NativeClient } from '@sealstream/emitter';
import { dropTestSchema, pgAvailability, pgTestUrl, uniqueTestSchema } from '../packages/hub/test/support/postgres.js';
import {
  CLI_PATH,
  cliBuilt,
  countDelivered,
  eventually,
  hubDatabaseUrl,
  killAllHubs,
  sleep,
  spawnHub,
  type HubProcess,
} from './support/hub-process.js';

const postgres = await pgAvailability();
const ci = process.env.CI === 'true';
if (ci && !cliBuilt) throw new Error(`${CLI_PATH} is missing: run npm run build before the shutdown tests`);
if (ci && !postgres.available) throw new Error(`${postgres.reason}; CI=true requires it for the shutdown tests`);
const skipReason = !cliBuilt
  ? 'the build is missing (run npm run build)'
  : !postgres.available
    ? postgres.reason
    : null;
if (skipReason !== null) console.warn(`skipping shutdown tests: ${skipReason}`);

const KEY_ID = 'fleet';
const SECRET = randomBytes(32);
const HUB_ENV = {
  SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
  SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
};

const schemas: string[] = [];
const clients: NativeClient[] = [];
const lockers: pg.Client[] = [];
afterEach(async (context) => {
  for (const client of clients.splice(0)) client.destroy();
  for (const locker of lockers.splice(0)) await locker.end().catch(() => undefined);
  const outputs = killAllHubs();
  if (context.task.result?.state === 'fail') for (const output of outputs) console.error(`hub output:\n${output}`);
});
afterAll(async () => {
  for (const schema of schemas.splice(0)) await dropTestSchema(schema).catch(() => undefined);
});

function setup(extraArgs: string[] = []): { schema: string; args: string[] } {
  const schema = uniqueTestSchema('e2e_stop');
  schemas.push(schema);
  const url = hubDatabaseUrl(pgTestUrl(), `sealstream_${schema}`);
  return { schema, args: ['--database-url', url, '--database-schema', schema, ...extraArgs] };
}

function device(port: number): NativeClient {
  const client = new NativeClient({
    host: '127.0.0.1',
    port,
    keyId: KEY_ID,
    secret: SECRET,
    reconnect: { initialMs: 50, maxMs: 400 },
  });
  clients.push(client);
  return client;
}

async function send(client: NativeClient, from: number, count: number): Promise<void> {
  for (let seq = from; seq < from + count; seq += 1)
    await client.send({ device: 'stop-0', seq, ts: Date.now(), data: { v: seq } });
}

/** Holds an ACCESS EXCLUSIVE lock on the hub's readings table until released: every commit waits. */
async function lockReadings(schema: string): Promise<() => Promise<void>> {
  const locker = new pg.Client({ connectionString: pgTestUrl() });
  locker.on('error', () => undefined);
  lockers.push(locker);
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${schema}.readings IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await locker.query('ROLLBACK').catch(() => undefined);
  };
}

function exitOf(hub: HubProcess): Promise<number | null> {
  const { child } = hub;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Sends readings 0..49 and waits until the hub acknowledged them (committed). */
async function streamAcknowledged(hub: HubProcess): Promise<NativeClient> {
  const client = device(hub.ports.tcp);
  await send(client, 0, 50);
  await client.flush();
  expect(client.stats().acked).toBe(50);
  return client;
}

describe.skipIf(skipReason !== null)(
  `shutdown with a store that does not answer${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('--shutdown-timeout-ms bounds the close: exit code 1, then a restarted hub stores every reading once', async () => {
      const { schema, args } = setup(['--shutdown-timeout-ms', '1500']);
      const hub = await spawnHub(args, HUB_ENV);
      const client = await streamAcknowledged(hub);
      const release = await lockReadings(schema);
      await send(client, 50, 25); // committed into a locked table: never acknowledged
      // Sent and waiting for an answer: the commit is waiting inside the database.
      await eventually(() => client.stats().inFlight > 0);
      await sleep(300);

      const signalled = performance.now();
      hub.child.kill('SIGTERM');
      const code = await exitOf(hub);
      const tookMs = performance.now() - signalled;
      expect(code).toBe(1);
      expect(tookMs).toBeGreaterThanOrEqual(1400);
      expect(tookMs).toBeLessThan(10_000);
      expect(hub.output()).toContain('shutdown did not finish in time');
      expect(client.stats().acked).toBe(50);

      await release();
      const restarted = await spawnHub(args, HUB_ENV, hub.ports);
      await client.flush();
      expect(client.stats().acked).toBe(75);
      const delivered = await countDelivered(pgTestUrl(), schema);
      expect(delivered.rows).toBe(75);
      expect(delivered.distinctKeys).toBe(75);
      expect(await restarted.stop()).toBe(0);
    }, 60_000);

    it('a second signal a moment later exits at once; two signals together (Ctrl-C under npm) still wait', async () => {
      const { schema, args } = setup();
      const hub = await spawnHub(args, HUB_ENV);
      const client = await streamAcknowledged(hub);
      const release = await lockReadings(schema);
      try {
        await send(client, 50, 10);
        await eventually(() => client.stats().inFlight > 0);
        await sleep(300);

        hub.child.kill('SIGTERM');
        await sleep(50);
        hub.child.kill('SIGTERM'); // arrives with the first, as a terminal's Ctrl-C does under npm start
        await sleep(1500);
        expect(hub.child.exitCode, 'the hub should still be closing in order').toBeNull();
        expect(hub.output()).not.toContain('second signal');

        const signalled = performance.now();
        hub.child.kill('SIGTERM');
        expect(await exitOf(hub)).toBe(1);
        expect(performance.now() - signalled).toBeLessThan(3000);
        expect(hub.output()).toContain('second signal: exiting now');
      } finally {
        await release();
      }
      // The statement the hub left waiting may still commit once the lock goes (the server does not
      // know its client is gone): stored, never acknowledged, so resent and deduplicated.
      expect(client.stats().acked).toBe(50);
      const restarted = await spawnHub(args, HUB_ENV, hub.ports);
      await client.flush();
      expect(client.stats().acked).toBe(60);
      const delivered = await countDelivered(pgTestUrl(), schema);
      expect(delivered.rows).toBe(60);
      expect(delivered.distinctKeys).toBe(60);
      expect(await restarted.stop()).toBe(0);
    }, 60_000);
  },
);
