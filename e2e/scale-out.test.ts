/**
 * The scaled-out hub against real processes and the local PostgreSQL, RabbitMQ and Redis: one gateway,
 * one writer and one api node of the built CLI. A device streams to the gateway; every reading it had
 * acknowledged is in the database exactly once, the api node's live client saw every one of them
 * (committed by the writer, fanned out to the api node), the api node's totals equal the database, each
 * process answers /healthz with its role and dependencies and labels /metrics, and the cluster view
 * lists all three. Needs `npm run build`; skipped with the reason when a service is missing (CI fails).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NativeClient } from '@sealstream/emitter';
import { hubBuilt, killRunningHubs, runCli } from '@sealstream/testkit';
import { dropTestSchema, pgAvailability, pgTestUrl } from '../packages/hub/test/support/postgres.js';
import { deleteVhost, rabbitAvailability } from '../packages/hub/test/support/rabbitmq.js';
import { dropKeys, redisAvailability } from '../packages/hub/test/support/redis.js';
import { countDelivered, countRollups, eventually, sleep } from './support/hub-process.js';
import {
  clusterSetup,
  KEY_ID,
  LiveWatcher,
  SECRET,
  startRole,
  type ClusterSetup,
  type RoleProcess,
} from './support/cluster.js';

const [postgres, rabbit, redis] = await Promise.all([pgAvailability(), rabbitAvailability(), redisAvailability()]);
const missing = !hubBuilt()
  ? 'the build is missing (run npm run build)'
  : ([postgres, rabbit, redis].map((s) => (s.available ? null : s.reason)).find((r) => r !== null) ?? null);
if (missing !== null && process.env.CI === 'true') throw new Error(`${missing}; CI=true requires it`);
if (missing !== null) console.warn(`skipping scale-out e2e: ${missing}`);

const DEVICES = ['sx-0', 'sx-1', 'sx-2', 'sx-3'];
const PER_DEVICE = 400;

let setup: ClusterSetup | undefined;
const processes: RoleProcess[] = [];
const watchers: LiveWatcher[] = [];
const clients: NativeClient[] = [];

afterEach((context) => {
  if (context.task.result?.state === 'fail') {
    for (const hub of processes) console.error(`${hub.role} ${hub.instance} output:\n${hub.output()}`);
  }
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const watcher of watchers) watcher.close();
  await Promise.all(processes.map((hub) => hub.stop(20_000)));
  killRunningHubs();
  if (setup !== undefined) {
    await dropTestSchema(setup.schema).catch(() => undefined);
    await deleteVhost(setup.vhost);
    await dropKeys(setup.redisPrefix);
  }
}, 120_000);

async function dbTotals(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: pgTestUrl() });
  await client.connect();
  try {
    const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.readings`);
    return Number(result.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

describe.skipIf(missing !== null)('scale-out: one gateway, one writer, one api node', () => {
  let writer: RoleProcess;
  let gateway: RoleProcess;
  let api: RoleProcess;

  beforeAll(async () => {
    setup = await clusterSetup();
    // The writer first: it migrates the schema (the others would wait on the migration lock anyway).
    writer = await startRole(setup, 'writer', 'w1');
    [gateway, api] = await Promise.all([startRole(setup, 'gateway', 'g1'), startRole(setup, 'api', 'a1')]);
    processes.push(writer, gateway, api);
  }, 180_000);

  it('acknowledges only committed readings, fans them out to the api node, and its totals equal the database', async () => {
    const active = setup as ClusterSetup;
    const watcher = await LiveWatcher.open(api.ports.http ?? Number.NaN, DEVICES);
    watchers.push(watcher);
    await sleep(300); // the subscription reaches the node

    const device = new NativeClient({
      host: '127.0.0.1',
      port: gateway.ports.tcp ?? Number.NaN,
      keyId: KEY_ID,
      secret: SECRET,
      reconnect: { initialMs: 50, maxMs: 400 },
    });
    clients.push(device);
    for (let seq = 0; seq < PER_DEVICE; seq += 1) {
      for (const id of DEVICES) await device.send({ device: id, seq, ts: Date.now(), data: { v: seq } });
      if (seq % 50 === 49) await sleep(20);
    }
    await device.flush();
    const total = DEVICES.length * PER_DEVICE;
    expect(device.stats().acked + device.stats().duplicates).toBe(total);

    // Every acknowledged reading is stored, once.
    const delivered = await countDelivered(pgTestUrl(), active.schema);
    expect(delivered.rows).toBe(total);
    expect(delivered.distinctKeys).toBe(total);

    // The writer committed them (the gateway has no store commit of its own).
    const writerMetrics = await (await fetch(`http://127.0.0.1:${writer.ports.http}/metrics`)).text();
    const accepted = /sealstream_readings_accepted_total\{source="tcp"[^}]*\} (\d+)/.exec(writerMetrics);
    expect(Number(accepted?.[1])).toBe(total);
    // ... and counted its commits as one process does (the bench's commit columns read these).
    const rowsCommitted = /sealstream_batch_readings_sum\{[^}]*\} (\d+)/.exec(writerMetrics);
    expect(Number(rowsCommitted?.[1])).toBe(total);
    expect(Number(/sealstream_commit_seconds_count\{[^}]*\} (\d+)/.exec(writerMetrics)?.[1])).toBeGreaterThan(0);

    // The api node's live client saw every reading the writer committed.
    await eventually(() => watcher.seen.size === total, 20_000);
    // Its totals are the database's.
    await eventually(() => watcher.lastStats?.totalValid === total, 20_000);
    expect(await dbTotals(active.schema)).toBe(total);
    await eventually(async () => (await countRollups(pgTestUrl(), active.schema)).backlog === 0, 20_000);
    expect((await countRollups(pgTestUrl(), active.schema)).mismatches).toEqual([]);
  }, 120_000);

  it('answers /healthz with role, instance and dependencies, and labels /metrics on every process', async () => {
    for (const hub of [writer, gateway, api]) {
      const health = await fetch(`http://127.0.0.1:${hub.ports.http}/healthz`);
      expect(health.status, hub.role).toBe(200);
      const body = (await health.json()) as Record<string, unknown>;
      expect(body, hub.role).toMatchObject({
        status: 'ok',
        store: 'postgres',
        role: hub.role,
        instance: hub.instance,
        deps: { postgres: 'up', bus: 'up' },
      });
      if (hub.role !== 'writer') expect(body['deps']).toMatchObject({ redis: 'up' });
      const metrics = await (await fetch(`http://127.0.0.1:${hub.ports.http}/metrics`)).text();
      expect(metrics, hub.role).toContain(`role="${hub.role}"`);
      expect(metrics, hub.role).toContain(`instance="${hub.instance}"`);
    }
    // The gateway serves no API and no dashboard; the writer only health and metrics.
    expect((await fetch(`http://127.0.0.1:${gateway.ports.http}/api/v1/stats`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${writer.ports.http}/api/v1/stats`)).status).toBe(404);
  });

  it('lists every process in the cluster view (operators only)', async () => {
    const active = setup as ClusterSetup;
    const made = await runCli(
      [
        'users',
        'add',
        '--username',
        'ops',
        '--role',
        'operator',
        '--database-url',
        pgTestUrl(),
        '--database-schema',
        active.schema,
      ],
      { env: active.env },
    );
    const password = /password \(shown only now\): (\S+)/.exec(made.output)?.[1];
    expect(password, made.output).toBeDefined();
    const base = `http://127.0.0.1:${api.ports.http}`;
    expect((await fetch(`${base}/api/v1/cluster`)).status).toBe(401);
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ops', password }),
    });
    const token = ((await login.json()) as { token: string }).token;
    const view = await fetch(`${base}/api/v1/cluster`, { headers: { authorization: `Bearer ${token}` } });
    expect(view.status).toBe(200);
    const body = (await view.json()) as { nodes: Array<{ instance: string; roles: string[] }>; answeredBy: string };
    expect(body.answeredBy).toBe('a1');
    expect(body.nodes.map((node) => [node.instance, node.roles])).toEqual([
      ['a1', ['api']],
      ['g1', ['gateway']],
      ['w1', ['writer']],
    ]);
  });

  it('a process whose bus the broker refuses (other --bus-partitions, wrong password) exits 1 at once with the cause', async () => {
    const active = setup as ClusterSetup;
    const withFlag = (flag: string, value: string): string[] => {
      const args = [...active.common];
      args[args.indexOf(flag) + 1] = value;
      return args;
    };
    const serve = (args: string[]) =>
      runCli(['serve', '--role', 'writer', '--instance', 'w-bad', '--http-port', '0', ...args], {
        env: active.env,
        timeoutMs: 25_000,
      });
    const partitions = await serve(withFlag('--bus-partitions', '16'));
    expect(partitions.code, partitions.output).toBe(1);
    expect(partitions.output).toMatch(/--bus-partitions/);
    expect(partitions.output).toMatch(/partitions=16/);
    const wrong =
      active.common[active.common.indexOf('--amqp-url') + 1]?.replace('guest:guest@', 'guest:n0t-it@') ?? '';
    const password = await serve(withFlag('--amqp-url', wrong));
    expect(password.code, password.output).toBe(1);
    expect(password.output).toMatch(/ACCESS_REFUSED/);
    expect(password.output).not.toMatch(/n0t-it/);
  }, 60_000);
});
