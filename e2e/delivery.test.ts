/**
 * Delivery guarantees against real processes and the real PostgreSQL server: a device streams through
 * the built hub while the hub is killed -9 and restarted, while its database connections are cut and
 * its table is locked, and while the network cuts device connections at random. Each time the
 * database must end up holding every reading the device sent, exactly once.
 *
 * Needs `npm run build` (the CLI in packages/hub/dist) and PostgreSQL; skipped with the reason when
 * either is missing, failed when CI=true.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NativeClient, type ClientEvent } from '@sealstream/emitter';
import { dropTestSchema, pgAvailability, pgTestUrl, uniqueTestSchema } from '../packages/hub/test/support/postgres.js';
import { CuttingProxy } from './support/cutting-proxy.js';
import {
  CLI_PATH,
  cliBuilt,
  countDelivered,
  countRollups,
  hubDatabaseUrl,
  killAllHubs,
  ReadingStream,
  scrapeMetrics,
  sleep,
  spawnHub,
  sumMetric,
  type DeliveryCount,
  type HubProcess,
} from './support/hub-process.js';

const postgres = await pgAvailability();
const ci = process.env.CI === 'true';
if (ci && !cliBuilt) throw new Error(`${CLI_PATH} is missing: run npm run build before the delivery tests`);
if (ci && !postgres.available) throw new Error(`${postgres.reason}; CI=true requires it for the delivery tests`);
const skipReason = !cliBuilt
  ? 'the build is missing (run npm run build)'
  : !postgres.available
    ? postgres.reason
    : null;
if (skipReason !== null) console.warn(`skipping delivery tests: ${skipReason}`);

/**
 * The store-outage test once found that a connection terminated inside a commit crashed the hub
 * (pg-pool leaves a checked-out client without an error listener); postgres-executor.ts now listens
 * and releases such a client as broken. Kept as a switch so a future regression can be parked with
 * its reason instead of deleted.
 */
const STORE_OUTAGE_BLOCKED: string | null = null;
if (skipReason === null && STORE_OUTAGE_BLOCKED !== null)
  console.warn(`skipping store outage test: ${STORE_OUTAGE_BLOCKED}`);

const KEY_ID = 'fleet';
const SECRET = randomBytes(32);
const HUB_ENV = {
  SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
  SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
};
const RATE = 3000;
const TEST_TIMEOUT_MS = 60_000;
/** The store outage: 20 s, below the hub's commit retry deadline (30 s), so it must ride it out. */
const OUTAGE_MS = 20_000;

const schemas: string[] = [];
const clients: NativeClient[] = [];
afterEach((context) => {
  for (const client of clients.splice(0)) client.destroy();
  const outputs = killAllHubs();
  // A failed delivery test is usually explained by what the hub printed (a crash, a commit error).
  if (context.task.result?.state === 'fail') for (const output of outputs) console.error(`hub output:\n${output}`);
});
afterAll(async () => {
  for (const schema of schemas.splice(0)) await dropTestSchema(schema).catch(() => undefined);
});

interface Setup {
  readonly schema: string;
  readonly applicationName: string;
  readonly args: string[];
}

function freshSchema(extraArgs: string[] = []): Setup {
  const schema = uniqueTestSchema('e2e');
  schemas.push(schema);
  const applicationName = `sealstream_${schema}`;
  return {
    schema,
    applicationName,
    args: ['--database-url', hubDatabaseUrl(pgTestUrl(), applicationName), '--database-schema', schema, ...extraArgs],
  };
}

function client(port: number, events: ClientEvent[] = []): NativeClient {
  const created = new NativeClient({
    host: '127.0.0.1',
    port,
    keyId: KEY_ID,
    secret: SECRET,
    reconnect: { initialMs: 50, maxMs: 400 },
    onEvent: (event) => events.push(event),
  });
  clients.push(created);
  return created;
}

async function flushWithin(target: NativeClient, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`flush did not finish in ${ms} ms: ${JSON.stringify(target.stats())}`)),
      ms,
    );
  });
  try {
    await Promise.race([target.flush(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every device's seqs 0..sent-1 are in the database, each exactly once, and nothing else is. */
function expectExactlyOnce(delivered: DeliveryCount, streams: readonly ReadingStream[]): void {
  const expected = new Map<string, number>();
  for (const stream of streams) for (const [device, count] of stream.sent) expected.set(device, count);
  const total = [...expected.values()].reduce((sum, count) => sum + count, 0);
  expect(delivered.rows).toBe(total);
  expect(delivered.distinctKeys).toBe(total);
  expect(new Set(delivered.devices.keys())).toEqual(new Set(expected.keys()));
  for (const [device, count] of expected) {
    // count(*) == count and the seqs span exactly 0..count-1 with no duplicate key: the set is complete.
    expect(delivered.devices.get(device), device).toEqual({ rows: count, minSeq: 0, maxSeq: count - 1 });
  }
}

const devices = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe.skipIf(skipReason !== null)(
  `delivery guarantees${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let admin: pg.Client;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: pgTestUrl() });
      admin.on('error', () => undefined);
      await admin.connect();
    });
    afterAll(async () => {
      await admin?.end();
    });

    it(
      'kill -9 of the hub mid-stream, restart on the same ports: every reading stored exactly once',
      async () => {
        const setup = freshSchema();
        let hub: HubProcess = await spawnHub(setup.args, HUB_ENV);
        const events: ClientEvent[] = [];
        const device = client(hub.ports.tcp, events);
        const stream = new ReadingStream(device, devices('kill', 8), RATE);

        await sleep(2500);
        const ackedBeforeKill = device.stats().acked;
        expect(ackedBeforeKill).toBeGreaterThan(0);
        await hub.kill9();
        await sleep(1500); // the device keeps producing into its outbox and retries the connection
        hub = await spawnHub(setup.args, HUB_ENV, hub.ports);
        await sleep(2500);
        await stream.stop();
        await flushWithin(device, 20_000);

        const stats = device.stats();
        expect(stream.total).toBeGreaterThan(RATE * 5);
        expect(stats.acked).toBe(stream.total);
        expect(stats.rejected).toBe(0);
        expect(stats.reconnects).toBeGreaterThanOrEqual(1);
        expect(events.some((event) => event.type === 'disconnected')).toBe(true);
        expectExactlyOnce(await countDelivered(pgTestUrl(), setup.schema), [stream]);
        expect(await hub.stop()).toBe(0);
        expect(await countRollups(pgTestUrl(), setup.schema)).toEqual({ backlog: 0, mismatches: [] });
      },
      TEST_TIMEOUT_MS,
    );

    it.skipIf(STORE_OUTAGE_BLOCKED !== null)(
      `store outage (table locked, hub connections terminated for 20 s, as the issue asks): backpressure, retries, nothing lost${
        STORE_OUTAGE_BLOCKED === null ? '' : ` (skipped: ${STORE_OUTAGE_BLOCKED})`
      }`,
      async () => {
        // A low in-flight bound makes the hub pause the socket soon after commits stop returning.
        const setup = freshSchema(['--max-in-flight-frames', '16']);
        const hub = await spawnHub(setup.args, HUB_ENV);
        const events: ClientEvent[] = [];
        const device = client(hub.ports.tcp, events);
        const stream = new ReadingStream(device, devices('outage', 6), RATE);
        await sleep(2000);
        expect(device.stats().acked).toBeGreaterThan(0);

        // Only this hub's backends: they carry the application_name given in its database URL.
        // Two statements: in one, the planner may call pg_terminate_backend before the other filters.
        const terminate = async (): Promise<number> => {
          const found = await admin.query<{ pid: number }>(
            'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
            [setup.applicationName],
          );
          const pids = found.rows.map((row) => row.pid);
          if (pids.length > 0)
            await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
          return pids.length;
        };
        const locker = new pg.Client({ connectionString: pgTestUrl() });
        locker.on('error', () => undefined);
        await locker.connect();
        let terminated = 0;
        let maxPaused = 0;
        let maxQueued = 0;
        try {
          await locker.query('BEGIN');
          await locker.query(`LOCK TABLE ${setup.schema}.readings IN ACCESS EXCLUSIVE MODE`);
          const outageEnds = Date.now() + OUTAGE_MS;
          while (Date.now() < outageEnds) {
            await sleep(400);
            terminated += await terminate();
            const metrics = await scrapeMetrics(hub.ports.http).catch((error: unknown) => {
              throw new Error(`hub unreachable (${String(error)}); its output:\n${hub.output()}`);
            });
            maxPaused = Math.max(maxPaused, metrics.get('sealstream_paused_connections') ?? 0);
            maxQueued = Math.max(maxQueued, device.stats().queued);
          }
        } finally {
          await locker.query('ROLLBACK').catch(() => undefined);
          await locker.end();
        }
        const ackedAtRecovery = device.stats().acked;
        await sleep(2000);
        await stream.stop();
        await flushWithin(device, 30_000);

        const metrics = await scrapeMetrics(hub.ports.http);
        expect(terminated).toBeGreaterThan(0);
        expect(metrics.get('sealstream_commit_failures_total')).toBeGreaterThan(0);
        // Backpressure: the hub stopped reading the device instead of buffering or dropping.
        expect(maxPaused).toBeGreaterThanOrEqual(1);
        expect(maxQueued).toBeGreaterThan(RATE); // the device held seconds of readings in its outbox
        expect(device.stats().acked).toBeGreaterThan(ackedAtRecovery);
        // Nothing refused for good: only retryable hub reasons, if any, and none of the frame reasons.
        const retryable = new Set(['overloaded', 'store_unavailable', 'shutting_down']);
        for (const event of events) {
          if (event.type === 'refused') expect(retryable.has(event.reason ?? 'unknown'), event.reason).toBe(true);
        }
        expect(device.stats().rejected).toBe(0);
        expect(device.stats().acked).toBe(stream.total);
        expect(sumMetric(metrics, 'sealstream_readings_rejected_total{source="tcp"')).toBe(0);
        expectExactlyOnce(await countDelivered(pgTestUrl(), setup.schema), [stream]);
        expect(await hub.stop()).toBe(0);
        expect(await countRollups(pgTestUrl(), setup.schema)).toEqual({ backlog: 0, mismatches: [] });
      },
      TEST_TIMEOUT_MS + OUTAGE_MS,
    );

    it(
      'device connections cut at random by the network: every reading stored exactly once',
      async () => {
        const setup = freshSchema();
        const hub = await spawnHub(setup.args, HUB_ENV);
        const proxy = await CuttingProxy.start(hub.ports.tcp);
        try {
          const streams = [0, 1, 2].map((n) => new ReadingStream(client(proxy.port), devices(`cut${n}`, 3), RATE / 3));
          const cutsEnd = Date.now() + 8000;
          while (Date.now() < cutsEnd) {
            await sleep(100 + Math.random() * 300);
            proxy.cutOne();
          }
          await sleep(500);
          await Promise.all(streams.map((stream) => stream.stop()));
          await Promise.all(clients.map((c) => flushWithin(c, 20_000)));

          expect(proxy.cuts).toBeGreaterThanOrEqual(10);
          expect(proxy.connections).toBeGreaterThan(proxy.cuts);
          for (const [index, c] of clients.entries()) {
            expect(c.stats().rejected).toBe(0);
            expect(c.stats().acked).toBe(streams[index]?.total);
          }
          expectExactlyOnce(await countDelivered(pgTestUrl(), setup.schema), streams);
          // Cut connections leave truncated frames behind; those are stream refusals, never reading losses.
          const metrics = await scrapeMetrics(hub.ports.http);
          expect(metrics.get('sealstream_readings_accepted_total{source="tcp"}')).toBe(
            streams.reduce((sum, stream) => sum + stream.total, 0),
          );
        } finally {
          await proxy.close();
        }
        expect(await hub.stop()).toBe(0);
        expect(await countRollups(pgTestUrl(), setup.schema)).toEqual({ backlog: 0, mismatches: [] });
      },
      TEST_TIMEOUT_MS,
    );
  },
);
