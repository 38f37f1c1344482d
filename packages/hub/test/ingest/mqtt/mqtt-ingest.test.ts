/**
 * MQTT ingest against the local Mosquitto and the local PostgreSQL server: real broker, real hubs, real
 * store. Each test uses its own topic prefix, shared group and client ids, so parallel runs never meet.
 * Skips with the reason when the broker (or PostgreSQL) is missing, except under CI=true, where it fails.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CipherSuite,
  deriveDeviceKey,
  FrameDecoder,
  FrameType,
  sealReadings,
  type Frame,
  type Reading,
} from '@sealstream/protocol';
import { NativeClient, parseEmitArgs } from '@sealstream/emitter';
import { DEMO_DEFAULTS } from '../../../src/cli/demo-defaults.js';
import { startHub, type RunningHub } from '../../../src/cli/start-hub.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { signRequestHex } from '../../../src/ingest/http/hmac-signature.js';
import { dropTestSchema, failIfRequired, pgAvailability, pgTestUrl, uniqueTestSchema } from '../../support/postgres.js';
import { mqttAvailability, mqttRequired, MQTT_TEST_URL } from '../../support/mqtt.js';

const run = promisify(execFile);
const KEY_ID = 'mq-key';
const SECRET = randomBytes(32);
const KEY = deriveDeviceKey(SECRET);

let skipReason: string | null = null;
beforeAll(async () => {
  const broker = await mqttAvailability();
  const pgState = await pgAvailability();
  failIfRequired(pgState);
  if (!broker.available && mqttRequired()) throw new Error(`${broker.reason}; CI=true requires it`);
  skipReason = !broker.available ? broker.reason : !pgState.available ? pgState.reason : null;
  if (skipReason !== null) console.warn(`skipping MQTT ingest tests: ${skipReason}`);
});

interface Scope {
  readonly prefix: string;
  readonly group: string;
  readonly schema: string;
  readonly hubs: RunningHub[];
  readonly clients: MqttClient[];
}

const scopes: Scope[] = [];
// After each test, not at the end: every hub holds a pool of PostgreSQL connections, and a file's worth of
// hubs open at once exhausts the server's connection limit (shared with other suites).
afterEach(async () => {
  for (const scope of scopes.splice(0)) {
    for (const client of scope.clients) client.end(true);
    await Promise.all(scope.hubs.map((hub) => hub.close().catch(() => undefined)));
    await dropTestSchema(scope.schema).catch(() => undefined);
  }
});

function newScope(): Scope {
  const id = randomBytes(5).toString('hex');
  const scope: Scope = { prefix: `t${id}/v1`, group: `g${id}`, schema: uniqueTestSchema('mq'), hubs: [], clients: [] };
  scopes.push(scope);
  return scope;
}

async function startMqttHub(
  scope: Scope,
  clientId: string,
  extra: string[] = [],
  logger: Logger = pino({ level: 'silent' }),
): Promise<RunningHub> {
  const loaded = loadConfig(
    [
      '--http-port',
      '0',
      '--tcp-port',
      'off',
      '--legacy-port',
      'off',
      '--log-level',
      'silent',
      '--database-url',
      pgTestUrl(),
      '--database-schema',
      scope.schema,
      '--mqtt-url',
      MQTT_TEST_URL,
      '--mqtt-client-id',
      clientId,
      '--mqtt-group',
      scope.group,
      '--mqtt-topic-prefix',
      scope.prefix,
      ...extra,
    ],
    {
      SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
      SEALSTREAM_JWT_SECRET: 'test-jwt-secret-0123456789abcdef-0123456789',
    },
    DEMO_DEFAULTS,
  );
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const hub = await startHub(loaded.config, { logger, dashboardDir: undefined });
  scope.hubs.push(hub);
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitConnected(hub: RunningHub): Promise<void> {
  await waitUntil(async () => {
    const response = await hub.http.inject({ method: 'GET', url: '/healthz' });
    return (response.json() as { status: string }).status === 'ok';
  });
}

async function storedSeqs(hub: RunningHub, deviceId: string): Promise<number[]> {
  const rows = await hub.store.readings(deviceId, 0, Date.now() + 3_600_000, 100_000);
  return rows.map((row) => row.seq).sort((a, b) => a - b);
}

/** A sample of the hub's /metrics: the value of the line starting with `series` (0 when absent). */
async function metric(hub: RunningHub, series: string): Promise<number> {
  const text = (await hub.http.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.split(' ')[1] ?? 0);
}

/** Readings of `deviceId` in the schema, counted straight from PostgreSQL (the hub may be closed). */
async function readingsIn(schema: string, deviceId: string): Promise<number> {
  const db = new pg.Client({ connectionString: pgTestUrl() });
  await db.connect();
  try {
    const result = await db.query(`SELECT count(*)::int AS n FROM ${schema}.readings WHERE device_id = $1`, [deviceId]);
    return (result.rows[0] as { n: number }).n;
  } finally {
    await db.end();
  }
}

async function mqttLetters(hub: RunningHub, topic: string): Promise<Array<{ reason: string; detail: string }>> {
  return (await hub.store.recentDeadLetters(200)).filter((letter) => letter.source === 'mqtt' && letter.peer === topic);
}

describe('MQTT ingest through Mosquitto', () => {
  it('commits sealed frames from an MQTT.js device and answers ACK frames on its answer topic', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'dev-a');
    // Two frames in one message (batched), and a resend of the first re-sealed (duplicates).
    const payload = Buffer.concat([seal(readings('mq-a', 0, 5), 1), seal(readings('mq-a', 5, 3), 2)]);
    await client.publishAsync(`${scope.prefix}/dev-a/frames`, payload, { qos: 1 });
    await waitUntil(() => answers.length >= 2);
    expect(answers).toEqual([
      expect.objectContaining({ type: FrameType.Ack, frameId: 1, accepted: 5, duplicates: 0 }),
      expect.objectContaining({ type: FrameType.Ack, frameId: 2, accepted: 3, duplicates: 0 }),
    ]);
    // Answered after commit: the rows are there now.
    expect(await storedSeqs(hub, 'mq-a')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await client.publishAsync(`${scope.prefix}/dev-a/frames`, seal(readings('mq-a', 0, 5), 3), { qos: 1 });
    await waitUntil(() => answers.length >= 3);
    expect(answers[2]).toMatchObject({ type: FrameType.Ack, frameId: 3, accepted: 0, duplicates: 5 });
    const rows = await hub.store.readings('mq-a', 0, Date.now() + 3_600_000, 100);
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((row) => row.source))).toEqual(new Set(['mqtt']));
    const health = await hub.http.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toMatchObject({ status: 'ok', brokers: { mqtt: 'connected' } });
  });

  it('stores a sealed frame file published with mosquitto_pub -f', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const dir = await mkdtemp(join(tmpdir(), 'sealstream-mqtt-'));
    try {
      const file = join(dir, 'frame.bin');
      await writeFile(file, seal(readings('mq-shell', 0, 4), 1));
      const url = new URL(MQTT_TEST_URL);
      await run('mosquitto_pub', [
        '-h',
        url.hostname,
        '-p',
        url.port || '1883',
        '-q',
        '1',
        '-t',
        `${scope.prefix}/shell/frames`,
        '-f',
        file,
      ]);
      await waitUntil(async () => (await storedSeqs(hub, 'mq-shell')).length === 4);
      expect(await storedSeqs(hub, 'mq-shell')).toEqual([0, 1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('dead-letters a bad payload with its topic, answers an ERROR, and acknowledges it so it never comes back', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const clientId = `h-${scope.group}`;
    const hub = await startMqttHub(scope, clientId, ['--mqtt-connections', '1']);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'bad');
    const topic = `${scope.prefix}/bad/frames`;
    // A length prefix far above the frame limit: the payload does not frame at all.
    const garbage = Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(32)]);
    await client.publishAsync(topic, garbage, { qos: 1 });
    await waitUntil(() => answers.length >= 1);
    expect(answers[0]).toMatchObject({ type: FrameType.Error, frameId: 0, reason: 'frame_too_large' });
    const letters = async (from: RunningHub = hub) =>
      (await from.store.recentDeadLetters(100)).filter((letter) => letter.source === 'mqtt' && letter.peer === topic);
    await waitUntil(async () => (await letters()).length === 1);
    const [letter] = await letters();
    expect(letter).toMatchObject({ reason: 'frame_too_large', peer: topic });
    expect(letter?.detail).toContain(topic);
    // A good frame behind it is taken: the link did not stall on the bad one.
    await client.publishAsync(topic, seal(readings('mq-bad', 0, 2), 1), { qos: 1 });
    await waitUntil(() => answers.length >= 2);
    expect(answers[1]).toMatchObject({ type: FrameType.Ack, frameId: 1, accepted: 2 });
    // Restart with the same persistent session: nothing is delivered again.
    await hub.close();
    const again = await startMqttHub(scope, clientId, ['--mqtt-connections', '1']);
    await waitConnected(again);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await letters(again)).toHaveLength(1);
    expect(await storedSeqs(again, 'mq-bad')).toEqual([0, 1]);
  });

  it('splits a shared group between two hubs with no reading lost or duplicated', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const [one, two] = await Promise.all([
      startMqttHub(scope, `h1-${scope.group}`, ['--mqtt-connections', '2']),
      startMqttHub(scope, `h2-${scope.group}`, ['--mqtt-connections', '2']),
    ]);
    await Promise.all([waitConnected(one), waitConnected(two)]);
    const { client, answers } = await device(scope, 'split');
    const messages = 40;
    for (let i = 0; i < messages; i += 1) {
      await client.publishAsync(`${scope.prefix}/split/frames`, seal(readings('mq-split', i * 10, 10), i + 1), {
        qos: 1,
      });
    }
    await waitUntil(() => answers.length >= messages, 30_000);
    expect(answers.every((answer) => answer.type === FrameType.Ack)).toBe(true);
    const seqs = await storedSeqs(one, 'mq-split');
    expect(seqs).toEqual(Array.from({ length: messages * 10 }, (_, i) => i));
    // Both hubs took a share (the broker alternates between the group's four sessions).
    const taken = async (hub: RunningHub) => {
      const text = await (await hub.http.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith('sealstream_mqtt_messages_total{outcome="handled"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const [a, b] = [await taken(one), await taken(two)];
    expect(a + b).toBe(messages);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });

  it('a hub that dies before acknowledging leaves the message to the broker: redelivered after restart, stored once', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const clientId = `h-${scope.group}`;
    // The "hub" that takes the message and dies before its commit: the same session a hub would hold
    // (client id <clientId>-0, clean start off, withheld PUBACK), dropped without acknowledging.
    const doomed = await mqtt.connectAsync(MQTT_TEST_URL, {
      protocolVersion: 5,
      clientId: `${clientId}-0`,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      customHandleAcks: () => {
        // never acknowledged: the process "dies" holding it
      },
    });
    const received = new Promise<void>((resolve) => {
      const original = doomed.options.customHandleAcks;
      doomed.options.customHandleAcks = (...args) => {
        original?.(...args);
        resolve();
      };
    });
    await doomed.subscribeAsync(`$share/${scope.group}/${scope.prefix}/+/frames`, { qos: 1 });
    const { client, answers } = await device(scope, 'crash');
    await client.publishAsync(`${scope.prefix}/crash/frames`, seal(readings('mq-crash', 0, 6), 1), { qos: 1 });
    await received;
    doomed.end(true); // killed: no PUBACK, no DISCONNECT

    const hub = await startMqttHub(scope, clientId, ['--mqtt-connections', '1']);
    await waitUntil(() => answers.length >= 1);
    expect(answers[0]).toMatchObject({ type: FrameType.Ack, frameId: 1, accepted: 6 });
    expect(await storedSeqs(hub, 'mq-crash')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('withholds the PUBACK until commit: a hub killed while its commit waits gets the message redelivered', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const clientId = `h-${scope.group}`;
    const first = await startMqttHub(scope, clientId, ['--mqtt-connections', '1']);
    await waitConnected(first);
    const { client, answers } = await device(scope, 'held');
    // Hold the readings table: the hub's commit waits on the lock.
    const locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${scope.schema}.readings IN ACCESS EXCLUSIVE MODE`);
      await client.publishAsync(`${scope.prefix}/held/frames`, seal(readings('mq-held', 0, 6), 1), { qos: 1 });
      await waitUntil(() => first.pipeline.queuedRows > 0 || first.pipeline.stats().totalReceived > 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      first.mqtt?.abort(); // the process dies while its commit waits: no PUBACK reached the broker
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(answers).toHaveLength(0);
    const second = await startMqttHub(scope, clientId, ['--mqtt-connections', '1']);
    await waitUntil(() => answers.length >= 1);
    // Redelivered: the first hub's commit went through after the lock, so these are duplicates, stored once.
    expect(answers[0]).toMatchObject({ type: FrameType.Ack, frameId: 1 });
    const ack = answers[0] as Extract<Frame, { type: typeof FrameType.Ack }>;
    expect(ack.accepted + ack.duplicates).toBe(6);
    expect(await storedSeqs(second, 'mq-held')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('sealstream emit --transport mqtt: a NativeClient through the broker gets every reading acknowledged and stored once', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const parsed = parseEmitArgs(
      ['--transport', 'mqtt', '--mqtt-url', MQTT_TEST_URL, '--mqtt-topic-prefix', scope.prefix, '--key-id', KEY_ID],
      { SEALSTREAM_DEVICE_SECRET: SECRET.toString('hex') },
    );
    if (!parsed.ok || parsed.command.mode !== 'native') throw new Error(parsed.ok ? 'not native' : parsed.error);
    const client = new NativeClient({
      transport: parsed.command.transport,
      keyId: KEY_ID,
      secret: SECRET,
      maxReadingsPerFrame: 100,
    });
    try {
      const now = Date.now();
      for (let seq = 0; seq < 2000; seq += 1) await client.send({ device: 'mq-emit', seq, ts: now, data: { v: seq } });
      await client.flush();
      expect(client.stats()).toMatchObject({ acked: 2000, duplicates: 0, rejected: 0 });
      expect(await storedSeqs(hub, 'mq-emit')).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    } finally {
      client.destroy();
    }
  });

  it('verifies HMAC-signed JSON on the signed topic like the signed HTTP route, and refuses a bad signature', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const client = await mqtt.connectAsync(MQTT_TEST_URL, { protocolVersion: 5, clientId: `dev-${scope.group}` });
    scope.clients.push(client);
    const answers: unknown[] = [];
    client.on('message', (_topic, payload) => answers.push(JSON.parse(payload.toString('utf8'))));
    await client.subscribeAsync(`${scope.prefix}/signer/signed-answers`, { qos: 1 });
    const publishSigned = async (body: Buffer, secret: Buffer): Promise<void> => {
      const headers = { deviceId: 'mq-signed', nonce: randomBytes(16).toString('hex'), timestamp: String(Date.now()) };
      await client.publishAsync(`${scope.prefix}/signer/signed`, body, {
        qos: 1,
        properties: {
          userProperties: {
            'x-device-id': headers.deviceId,
            'x-timestamp': headers.timestamp,
            'x-nonce': headers.nonce,
            'x-hmac-signature': signRequestHex(secret, headers, body),
          },
        },
      });
    };
    const body = Buffer.from(JSON.stringify({ readings: [{ seq: 1, ts: Date.now(), data: { v: 1 } }] }));
    await publishSigned(body, SECRET);
    await waitUntil(() => answers.length >= 1);
    expect(answers[0]).toEqual({ outcome: 'ack', accepted: 1, duplicates: 0, rejected: 0 });
    expect(await storedSeqs(hub, 'mq-signed')).toEqual([1]);
    await publishSigned(body, randomBytes(32));
    await waitUntil(() => answers.length >= 2);
    expect(answers[1]).toMatchObject({ outcome: 'error', reason: 'bad_signature' });
    await waitUntil(async () =>
      (await hub.store.recentDeadLetters(50)).some(
        (letter) => letter.reason === 'bad_signature' && letter.peer === `${scope.prefix}/signer/signed`,
      ),
    );
  });

  it('handles a QoS 0 frame (mosquitto_pub -V mqttv5 -q 0) like a QoS 1 one: committed, answered, refusals dead-lettered', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'chq');
    const topic = `${scope.prefix}/chq/frames`;
    const dir = await mkdtemp(join(tmpdir(), 'sealstream-mqtt-'));
    try {
      const file = join(dir, 'frame.bin');
      await writeFile(file, seal(readings('mq-q0', 0, 4), 1));
      const url = new URL(MQTT_TEST_URL);
      const port = url.port || '1883';
      await run('mosquitto_pub', ['-V', 'mqttv5', '-h', url.hostname, '-p', port, '-q', '0', '-t', topic, '-f', file]);
      await waitUntil(() => answers.length >= 1);
      expect(answers[0]).toMatchObject({ type: FrameType.Ack, frameId: 1, accepted: 4 });
      expect(await storedSeqs(hub, 'mq-q0')).toEqual([0, 1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // A refusal at QoS 0: answered, dead-lettered and counted, as at QoS 1.
    await client.publishAsync(topic, Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(8)]), {
      qos: 0,
    });
    await waitUntil(() => answers.length >= 2);
    expect(answers[1]).toMatchObject({ type: FrameType.Error, frameId: 0, reason: 'frame_too_large' });
    await waitUntil(async () => (await mqttLetters(hub, topic)).length === 1);
    expect(await metric(hub, 'sealstream_mqtt_messages_total{outcome="handled"}')).toBe(1);
    expect(await metric(hub, 'sealstream_mqtt_messages_total{outcome="refused"}')).toBe(1);
  });

  it('verifies signed JSON published at QoS 0 and answers it on the signed-answers topic', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`);
    await waitConnected(hub);
    const client = await mqtt.connectAsync(MQTT_TEST_URL, { protocolVersion: 5, clientId: `dev-${scope.group}` });
    scope.clients.push(client);
    const answers: unknown[] = [];
    client.on('message', (_topic, payload) => answers.push(JSON.parse(payload.toString('utf8'))));
    await client.subscribeAsync(`${scope.prefix}/q0signer/signed-answers`, { qos: 1 });
    const body = Buffer.from(JSON.stringify({ readings: [{ seq: 7, ts: Date.now(), data: { v: 7 } }] }));
    const headers = { deviceId: 'mq-q0-signed', nonce: randomBytes(16).toString('hex'), timestamp: String(Date.now()) };
    await client.publishAsync(`${scope.prefix}/q0signer/signed`, body, {
      qos: 0,
      properties: {
        userProperties: {
          'x-device-id': headers.deviceId,
          'x-timestamp': headers.timestamp,
          'x-nonce': headers.nonce,
          'x-hmac-signature': signRequestHex(SECRET, headers, body),
        },
      },
    });
    await waitUntil(() => answers.length >= 1);
    expect(answers[0]).toEqual({ outcome: 'ack', accepted: 1, duplicates: 0, rejected: 0 });
    expect(await storedSeqs(hub, 'mq-q0-signed')).toEqual([7]);
  });

  it('holds QoS 0 messages within the receive maximum of the connection while their commits wait', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`, [
      '--mqtt-connections',
      '1',
      '--mqtt-receive-maximum',
      '2',
    ]);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'q0bound');
    const messages = 8;
    const locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
    let highest = 0;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${scope.schema}.readings IN ACCESS EXCLUSIVE MODE`);
      for (let i = 0; i < messages; i += 1) {
        await client.publishAsync(`${scope.prefix}/q0bound/frames`, seal(readings('mq-q0b', i * 3, 3), i + 1), {
          qos: 0,
        });
      }
      await waitUntil(async () => (await metric(hub, 'sealstream_mqtt_messages_in_hand')) >= 2);
      for (let sample = 0; sample < 10; sample += 1) {
        highest = Math.max(highest, await metric(hub, 'sealstream_mqtt_messages_in_hand'));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // The broker's receive maximum does not cover QoS 0: the hub itself stopped reading at 2.
    expect(highest).toBe(2);
    await waitUntil(() => answers.length >= messages);
    expect(answers.every((answer) => answer.type === FrameType.Ack)).toBe(true);
    expect(await storedSeqs(hub, 'mq-q0b')).toEqual(Array.from({ length: messages * 3 }, (_, i) => i));
  });

  it('a shutdown with QoS 0 messages in hand finishes them cleanly: committed and answered, nothing after close', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    // The hub's warnings and errors, as JSON lines: a publish after the client ended is logged as a
    // connection error ("client disconnecting"), a defect as "handling an mqtt message failed".
    const logged: Array<{ level: number; msg: string; err?: unknown }> = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) },
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    try {
      const hub = await startMqttHub(
        scope,
        `h-${scope.group}`,
        ['--mqtt-connections', '1', '--mqtt-receive-maximum', '4'],
        logger,
      );
      await waitConnected(hub);
      const { client, answers } = await device(scope, 'q0stop');
      const messages = 12;
      const locker = new pg.Client({ connectionString: pgTestUrl() });
      await locker.connect();
      let closed: Promise<void>;
      try {
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${scope.schema}.readings IN ACCESS EXCLUSIVE MODE`);
        for (let i = 0; i < messages; i += 1) {
          await client.publishAsync(`${scope.prefix}/q0stop/frames`, seal(readings('mq-q0stop', i * 3, 3), i + 1), {
            qos: 0,
          });
        }
        await waitUntil(async () => (await metric(hub, 'sealstream_mqtt_messages_in_hand')) >= 4);
        closed = hub.close();
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      const released = Date.now();
      await closed;
      // Once the commits went through, the close is prompt and clean: not the 2 s cut-off that follows when
      // MQTT.js, never called back for a message taken at the bound, cannot read the PUBACKs of the answers.
      expect(Date.now() - released).toBeLessThan(1500);
      await new Promise((resolve) => setTimeout(resolve, 300)); // anything still running would show by now
      expect(unhandled).toEqual([]);
      const trouble = logged.filter((line) => line.msg.startsWith('mqtt connection error') || line.level >= 50);
      expect(trouble, JSON.stringify(trouble)).toEqual([]);
      // Every message the hub had in hand was committed and answered; one that arrived after the shutdown
      // began is answered shutting_down (while the client still runs) or dropped, never stored.
      const acked = answers.filter((answer) => answer.type === FrameType.Ack);
      expect(acked.length).toBeGreaterThanOrEqual(4);
      const others = answers.filter((answer) => answer.type !== FrameType.Ack);
      expect(others.every((answer) => answer.type === FrameType.Error && answer.reason === 'shutting_down')).toBe(true);
      const stored = await readingsIn(scope.schema, 'mq-q0stop');
      expect(stored).toBe(acked.length * 3);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    }
  });

  it('a shutdown with QoS 1 messages in hand disconnects cleanly; what it did not take is redelivered, stored once', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const clientId = `h-${scope.group}`;
    const hubArgs = ['--mqtt-connections', '1', '--mqtt-receive-maximum', '4'];
    const hub = await startMqttHub(scope, clientId, hubArgs);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'q1stop');
    const messages = 12;
    const locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
    let closed: Promise<void>;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${scope.schema}.readings IN ACCESS EXCLUSIVE MODE`);
      for (let i = 0; i < messages; i += 1) {
        await client.publishAsync(`${scope.prefix}/q1stop/frames`, seal(readings('mq-q1stop', i * 3, 3), i + 1), {
          qos: 1,
        });
      }
      await waitUntil(async () => (await metric(hub, 'sealstream_mqtt_messages_in_hand')) >= 4);
      closed = hub.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const released = Date.now();
    await closed;
    // The broker sends the next messages as the first PUBACKs go out; the closing hub leaves them
    // unacknowledged but still reads on, so its clean disconnect is not held for the 2 s cut-off.
    expect(Date.now() - released).toBeLessThan(1500);
    // Its session kept the rest: the same client id takes them up, and each reading is stored once.
    const next = await startMqttHub(scope, clientId, hubArgs);
    await waitUntil(() => answers.filter((answer) => answer.type === FrameType.Ack).length >= messages);
    expect(await storedSeqs(next, 'mq-q1stop')).toEqual(Array.from({ length: messages * 3 }, (_, i) => i));
  });

  it('never receives a publish over its maximum packet size; refuses a payload just over the message bound; takes what follows', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    // --max-frame-bytes 65536: messages up to 65536 + 65536 bytes, packets up to 64 KiB more.
    const hub = await startMqttHub(scope, `h-${scope.group}`, [
      '--mqtt-connections',
      '1',
      '--max-frame-bytes',
      '65536',
    ]);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'chbig');
    const topic = `${scope.prefix}/chbig/frames`;
    // 1 MiB: well under the old bound (frames-per-message x max-frame-bytes, 4 MiB), over the new one.
    await client.publishAsync(topic, randomBytes(1_048_576), { qos: 1 });
    await client.publishAsync(topic, seal(readings('mq-big', 0, 2), 1), { qos: 1 });
    await waitUntil(() => answers.length >= 1);
    expect(answers[0]).toMatchObject({ type: FrameType.Ack, frameId: 1, accepted: 2 });
    // Over the message bound but inside the packet allowance: reaches the hub, refused whole.
    await client.publishAsync(topic, Buffer.concat([seal(readings('mq-big', 2, 1), 2), randomBytes(131_072)]), {
      qos: 1,
    });
    await client.publishAsync(topic, seal(readings('mq-big', 3, 2), 3), { qos: 1 });
    await waitUntil(() => answers.length >= 3);
    expect(answers.slice(1)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: FrameType.Error, frameId: 0, reason: 'body_too_large' }),
        expect.objectContaining({ type: FrameType.Ack, frameId: 3, accepted: 2 }),
      ]),
    );
    await waitUntil(async () => (await mqttLetters(hub, topic)).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const letters = await mqttLetters(hub, topic);
    // The 1 MiB publish never reached the hub: no dead letter, not counted (the broker dropped it).
    expect(letters.map((letter) => letter.reason)).toEqual(['body_too_large']);
    expect(await metric(hub, 'sealstream_mqtt_messages_total{outcome="refused"}')).toBe(1);
    expect(await metric(hub, 'sealstream_mqtt_messages_total{outcome="handled"}')).toBe(2);
    expect(await storedSeqs(hub, 'mq-big')).toEqual([0, 1, 3, 4]);
  });

  it('acknowledges and ignores an empty retained publish; refuses an empty non-retained one malformed_body', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const hub = await startMqttHub(scope, `h-${scope.group}`, ['--mqtt-connections', '1']);
    await waitConnected(hub);
    const { client, answers } = await device(scope, 'clear');
    const topic = `${scope.prefix}/clear/frames`;
    // The standard way to clear a topic's retained message.
    await client.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
    await waitUntil(async () => (await metric(hub, 'sealstream_mqtt_messages_total{outcome="ignored"}')) === 1);
    await client.publishAsync(topic, Buffer.alloc(0), { qos: 1 });
    await client.publishAsync(topic, seal(readings('mq-clear', 0, 1), 1), { qos: 1 });
    await waitUntil(() => answers.length >= 2);
    expect(answers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: FrameType.Error, frameId: 0, reason: 'malformed_body' }),
        expect.objectContaining({ type: FrameType.Ack, frameId: 1, accepted: 1 }),
      ]),
    );
    await waitUntil(async () => (await mqttLetters(hub, topic)).length >= 1);
    expect((await mqttLetters(hub, topic)).map((letter) => letter.reason)).toEqual(['malformed_body']);
    expect(answers).toHaveLength(2);
  });

  it('reports /healthz degraded while the broker cannot be reached, and keeps serving', async (context) => {
    if (skipReason !== null) return context.skip(skipReason);
    const scope = newScope();
    const loaded = await startMqttHub(scope, `h-${scope.group}`, ['--mqtt-url', 'mqtt://127.0.0.1:1']);
    const response = await loaded.http.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'degraded', brokers: { mqtt: 'down' } });
  });
});
