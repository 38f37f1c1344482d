/**
 * MQTT messages in hand and delivered again, against a real broker and the local PostgreSQL server:
 * one connection holds several messages while their commits run (PUBACKs still only after commit); a
 * message the broker delivers again after the hub's connection dropped is answered by what was committed
 * (a duplicate ACK, never `replayed_frame`); and a broker killed mid-stream and started again loses and
 * duplicates nothing. Skips with the reason when a server is missing, except under CI=true.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CipherSuite,
  deriveDeviceKey,
  FrameDecoder,
  FrameType,
  sealReadings,
  type Frame,
  type Reading,
} from '@sealstream/protocol';
import { NativeClient } from '@sealstream/emitter';
import { DEMO_DEFAULTS } from '../../../src/cli/demo-defaults.js';
import { startHub, type RunningHub } from '../../../src/cli/start-hub.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { dropTestSchema, failIfRequired, pgAvailability, pgTestUrl, uniqueTestSchema } from '../../support/postgres.js';
import { mqttAvailability, mqttRequired, MQTT_TEST_URL } from '../../support/mqtt.js';
import { startOwnMosquitto, type OwnMosquitto } from '../../support/own-mosquitto.js';

const KEY_ID = 'mqr-key';
const SECRET = randomBytes(32);
const KEY = deriveDeviceKey(SECRET);

let skipReason: string | null = null;
beforeAll(async () => {
  const broker = await mqttAvailability();
  const pgState = await pgAvailability();
  failIfRequired(pgState);
  if (!broker.available && mqttRequired()) throw new Error(`${broker.reason}; CI=true requires it`);
  skipReason = !broker.available ? broker.reason : !pgState.available ? pgState.reason : null;
  if (skipReason !== null) console.warn(`skipping MQTT redelivery tests: ${skipReason}`);
});

interface Scope {
  readonly prefix: string;
  readonly group: string;
  readonly clientId: string;
  readonly schema: string;
  readonly hubs: RunningHub[];
  readonly clients: MqttClient[];
  readonly cleanups: Array<() => Promise<void>>;
}

const scopes: Scope[] = [];
afterAll(async () => {
  for (const scope of scopes) {
    for (const client of scope.clients) client.end(true);
    await Promise.all(scope.hubs.map((hub) => hub.close().catch(() => undefined)));
    for (const cleanup of scope.cleanups) await cleanup().catch(() => undefined);
    await dropTestSchema(scope.schema).catch(() => undefined);
  }
});

function newScope(): Scope {
  const id = randomBytes(5).toString('hex');
  const scope: Scope = {
    prefix: `r${id}/v1`,
    group: `g${id}`,
    clientId: `h-${id}`,
    schema: uniqueTestSchema('mqr'),
    hubs: [],
    clients: [],
    cleanups: [],
  };
  scopes.push(scope);
  return scope;
}

async function startMqttHub(scope: Scope, url = MQTT_TEST_URL, extra: string[] = []): Promise<RunningHub> {
  const loaded = loadConfig(
    [
      ...['--http-port', '0', '--tcp-port', 'off', '--legacy-port', 'off', '--log-level', 'silent'],
      ...['--database-url', pgTestUrl(), '--database-schema', scope.schema],
      ...['--mqtt-url', url, '--mqtt-client-id', scope.clientId, '--mqtt-group', scope.group],
      ...['--mqtt-topic-prefix', scope.prefix, '--mqtt-connections', '1'],
      ...extra,
    ],
    {
      SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
      SEALSTREAM_JWT_SECRET: 'test-jwt-secret-0123456789abcdef-0123456789',
    },
    DEMO_DEFAULTS,
  );
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const hub = await startHub(loaded.config, { logger: pino({ level: 'silent' }), dashboardDir: undefined });
  scope.hubs.push(hub);
  await waitUntil(() => hub.mqtt?.connectedCount === 1);
  return hub;
}

async function device(scope: Scope, channel: string): Promise<{ client: MqttClient; answers: Frame[] }> {
  const client = await mqtt.connectAsync(MQTT_TEST_URL, { clientId: `dev-${randomBytes(5).toString('hex')}` });
  scope.clients.push(client);
  const answers: Frame[] = [];
  client.on('message', (_topic, payload) => {
    const decoder = new FrameDecoder();
    for (const item of [...decoder.push(payload), ...decoder.end()]) if (item.ok) answers.push(item.frame);
  });
  await client.subscribeAsync(`${scope.prefix}/${channel}/answers`, { qos: 1 });
  return { client, answers };
}

function readings(deviceId: string, fromSeq: number, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ device: deviceId, seq: fromSeq + i, ts: now, data: { v: i } }));
}

function seal(list: Reading[], frameId: number): Buffer {
  return sealReadings(list, KEY, { suite: CipherSuite.Aes256Gcm, keyId: KEY_ID, frameId });
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function storedSeqs(hub: RunningHub, deviceId: string): Promise<number[]> {
  const rows = await hub.store.readings(deviceId, 0, Date.now() + 3_600_000, 100_000);
  return rows.map((row) => row.seq).sort((a, b) => a - b);
}

/** Holds the readings table: every commit of the hub waits until `release`. */
async function lockReadings(schema: string): Promise<{ release(): Promise<void> }> {
  const locker = new pg.Client({ connectionString: pgTestUrl() });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${schema}.readings IN ACCESS EXCLUSIVE MODE`);
  return {
    async release() {
      await locker.query('ROLLBACK');
      await locker.end();
    },
  };
}

/**
 * Drops the hub's broker connection without a PUBACK: a client taking over its session (same client id,
 * clean start off) makes the broker close the hub's connection, and leaves at once without acknowledging
 * anything. The messages the hub held stay in the session; when the hub reconnects (0.5 s later) the
 * broker delivers them again.
 */
async function kickHubConnection(scope: Scope): Promise<void> {
  const intruder = await mqtt.connectAsync(MQTT_TEST_URL, {
    protocolVersion: 5,
    clientId: `${scope.clientId}-0`,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 300 },
    customHandleAcks: () => {
      // never acknowledged
    },
  });
  intruder.end(true);
}

type Ack = Extract<Frame, { type: typeof FrameType.Ack }>;
const acksOf = (answers: Frame[], frameId: number): Ack[] =>
  answers.filter((answer): answer is Ack => answer.type === FrameType.Ack && answer.frameId === frameId);

describe('MQTT messages in hand and delivered again', () => {
  it('holds several messages of one connection in hand while their commits run, and acknowledges each after commit', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope);
    const { client, answers } = await device(scope, 'many');
    const lock = await lockReadings(scope.schema);
    try {
      for (let i = 0; i < 3; i += 1) {
        await client.publishAsync(`${scope.prefix}/many/frames`, seal(readings('mqr-many', i * 5, 5), i + 1), {
          qos: 1,
        });
      }
      // All three opened and waiting for the store at once, on one connection: one message in hand
      // per connection would leave 5 rows queued here, the others in the broker.
      await waitUntil(() => hub.pipeline.queuedRows === 15);
      expect(answers).toHaveLength(0);
    } finally {
      await lock.release();
    }
    await waitUntil(() => answers.length >= 3);
    expect(answers.map((answer) => answer.type)).toEqual([FrameType.Ack, FrameType.Ack, FrameType.Ack]);
    expect(await storedSeqs(hub, 'mqr-many')).toEqual(Array.from({ length: 15 }, (_, i) => i));
    // Every PUBACK reached the broker: the same session after a restart gets nothing again.
    await hub.close();
    const again = await startMqttHub(scope);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(answers).toHaveLength(3);
    expect(again.pipeline.stats().totalDuplicate).toBe(0);
  });

  it('answers a message delivered again after its readings committed with a duplicate ACK, not replayed_frame', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope);
    const { client, answers } = await device(scope, 'again');
    const lock = await lockReadings(scope.schema);
    try {
      await client.publishAsync(`${scope.prefix}/again/frames`, seal(readings('mqr-again', 0, 6), 1), { qos: 1 });
      await waitUntil(() => hub.pipeline.queuedRows === 6); // opened (its IV is known), commit waiting
      await kickHubConnection(scope); // the PUBACK can no longer reach the broker
    } finally {
      await lock.release();
    }
    // The first delivery commits while the hub reconnects; the broker then delivers the message again.
    await waitUntil(async () => (await storedSeqs(hub, 'mqr-again')).length === 6);
    await waitUntil(() => answers.length >= 2);
    expect(answers.filter((answer) => answer.type === FrameType.Error)).toEqual([]);
    const acks = acksOf(answers, 1);
    expect(acks.map((ack) => [ack.accepted, ack.duplicates, ack.rejected])).toEqual([
      [6, 0, 0],
      [0, 6, 0],
    ]);
    expect(await storedSeqs(hub, 'mqr-again')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('takes a message delivered again while its first delivery still waits for the store, and stores it once', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope);
    const { client, answers } = await device(scope, 'pending');
    const lock = await lockReadings(scope.schema);
    try {
      await client.publishAsync(`${scope.prefix}/pending/frames`, seal(readings('mqr-pending', 0, 6), 1), {
        qos: 1,
      });
      await waitUntil(() => hub.pipeline.queuedRows === 6);
      await kickHubConnection(scope);
      // The redelivered copy opens too (not committed: nothing says its readings are stored) and waits
      // for the store beside the first; refusing it as a replay answered the device ERROR at once.
      await waitUntil(() => hub.pipeline.queuedRows === 12);
      expect(answers).toEqual([]);
    } finally {
      await lock.release();
    }
    await waitUntil(() => answers.length >= 2);
    expect(answers.filter((answer) => answer.type === FrameType.Error)).toEqual([]);
    const acks = acksOf(answers, 1);
    expect(acks).toHaveLength(2);
    expect(acks.map((ack) => ack.accepted).sort()).toEqual([0, 6]);
    expect(acks.every((ack) => ack.accepted + ack.duplicates === 6)).toBe(true);
    expect(await storedSeqs(hub, 'mqr-pending')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a broker killed mid-stream and started again on the same port: hub and device reconnect, nothing lost or duplicated', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    let broker: OwnMosquitto;
    try {
      broker = await startOwnMosquitto();
    } catch (error) {
      if (mqttRequired()) throw error;
      return context.skip(`cannot start a mosquitto of this test's own: ${(error as Error).message}`);
    }
    scope.cleanups.push(() => broker.dispose());
    const hub = await startMqttHub(scope, broker.url);
    const emitter = new NativeClient({
      transport: { kind: 'mqtt', url: broker.url, topicPrefix: scope.prefix },
      keyId: KEY_ID,
      secret: SECRET,
      maxReadingsPerFrame: 50,
      lingerMs: 2,
      // Frames unanswered for 3 × 300 ms (a message the broker lost with its restart): reconnect and resend.
      heartbeatMs: 300,
      reconnect: { initialMs: 100, maxMs: 500 },
    });
    scope.cleanups.push(async () => emitter.destroy());
    const total = 3000;
    const now = Date.now();
    for (let seq = 0; seq < total; seq += 1) {
      await emitter.send({ device: 'mqr-outage', seq, ts: now, data: { v: seq } });
      if (seq % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
      if (seq === 1000) {
        await broker.kill(); // connections drop without DISCONNECT; sessions and queued messages are gone
        await new Promise((resolve) => setTimeout(resolve, 300));
        await broker.start();
      }
    }
    await Promise.race([
      emitter.flush(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('not every reading was acknowledged')), 30_000)),
    ]);
    const stats = emitter.stats();
    expect(stats.acked).toBe(total);
    expect(stats.rejected).toBe(0);
    expect(stats.reconnects).toBeGreaterThan(0);
    expect(hub.mqtt?.connectedCount).toBe(1);
    // Every reading stored, each exactly once (the table's key would hide a duplicate: count rows too).
    const seqs = await storedSeqs(hub, 'mqr-outage');
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 60_000);
});
