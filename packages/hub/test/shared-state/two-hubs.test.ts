/**
 * Two real hubs (one PostgreSQL schema, one Redis key prefix: a cluster of two) share their replay and
 * nonce windows, rate limits, export links and failure budgets through Redis. Each copy of a sealed
 * frame, legacy token or signed request is taken by exactly one hub; limits are sums over both hubs.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CipherSuite,
  deriveDeviceKey,
  encodeLegacyDataLine,
  FrameType,
  legacyKey,
  REASONS,
  sealLegacyToken,
  sealReadings,
  type Frame,
} from '@sealstream/protocol';
import { signedHeaders } from '@sealstream/emitter';
import type { AccountStore } from '../../src/http/api-ports.js';
import { hashPassword } from '../../src/http/password-hash.js';
import { FrameClient } from '../support/frame-client.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';
import { dropKeys, failIfRedisRequired, REDIS_TEST_URL, redisAvailability, uniqueKeyPrefix } from '../support/redis.js';
import {
  DEVICE_SECRET,
  LEGACY_AUTH_TOKEN,
  LEGACY_ENCRYPTION_KEY,
  startTestHub,
  TEST_KEY_ID,
  TEST_SECRET,
  type TestHub,
} from '../support/test-hub.js';

const redis = await redisAvailability();
const postgres = await pgAvailability();
const skip = !redis.available ? redis.reason : !postgres.available ? postgres.reason : null;
if (skip !== null) console.warn(`two-hub shared-state suite skipped: ${skip}`);

const key = deriveDeviceKey(TEST_SECRET);
const LOGIN_LIMIT = 4;
const INGEST_LIMIT = 3;

function frameOf(device: string, frameId: number): Buffer {
  const now = Date.now();
  const readings = [0, 1, 2].map((i) => ({ device, seq: i, ts: now - i, data: { t: i } }));
  return Buffer.from(sealReadings(readings, key, { suite: CipherSuite.Aes256Gcm, keyId: TEST_KEY_ID, frameId }));
}

/** The ACK or ERROR a hub answers to `frame` on a fresh connection. */
async function answerTo(port: number, frame: Buffer, frameId: number): Promise<Frame> {
  const client = await FrameClient.open(port);
  try {
    client.write(frame);
    return await client.waitFor(
      (f) => (f.type === FrameType.Ack || f.type === FrameType.Error) && f.frameId === frameId,
    );
  } finally {
    client.close();
  }
}

async function sendLegacyLine(port: number, line: string): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
  await until(() => Buffer.concat(received).toString('latin1') === 'AUTH_OK\n');
  socket.write(line);
  socket.end();
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function base(hub: TestHub): string {
  return `http://127.0.0.1:${hub.hub.ports.http}`;
}

async function login(hub: TestHub, password: string): Promise<Response> {
  return fetch(`${base(hub)}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'shared-admin', password }),
  });
}

describe.skipIf(skip !== null)('two hubs sharing one Redis', () => {
  const prefix = uniqueKeyPrefix();
  let a: TestHub;
  let b: TestHub;
  const password = 'a shared password for both hubs';

  beforeAll(async () => {
    failIfRedisRequired(redis);
    failIfRequired(postgres);
    const shared = [
      '--redis-url',
      REDIS_TEST_URL,
      '--redis-key-prefix',
      prefix,
      '--login-rate-limit',
      String(LOGIN_LIMIT),
      '--ingest-rate-limit',
      String(INGEST_LIMIT),
    ];
    a = await startTestHub('postgres', shared);
    // The same schema: a cluster shares its store (accounts, readings) as well as its Redis.
    const schema = a.hub.config.store.kind === 'postgres' ? a.hub.config.store.schema : undefined;
    b = await startTestHub('postgres', shared, schema);
    await (a.hub.store as unknown as AccountStore).createUser({
      username: 'shared-admin',
      role: 'admin',
      passwordHash: await hashPassword(password),
    });
  }, 60_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await dropKeys(prefix);
  });

  it('the same sealed frame is accepted by exactly one hub and refused replayed_frame by the other', async () => {
    for (let round = 0; round < 5; round += 1) {
      const frame = frameOf(`twin-${round}`, 100 + round);
      const [fromA, fromB] = await Promise.all([
        answerTo(a.hub.ports.tcp ?? 0, frame, 100 + round),
        answerTo(b.hub.ports.tcp ?? 0, frame, 100 + round),
      ]);
      const answers = [fromA, fromB];
      expect(answers.filter((f) => f.type === FrameType.Ack)).toHaveLength(1);
      const refused = answers.find((f) => f.type === FrameType.Error);
      expect(refused).toMatchObject({ code: REASONS.replayed_frame.code, reason: 'replayed_frame' });
    }
  });

  it('the same legacy token is taken by exactly one hub', async () => {
    const legacy = legacyKey(LEGACY_ENCRYPTION_KEY);
    const fresh = sealLegacyToken({ name: 'Twin', origin: 'Pune', destination: 'Goa' }, legacy);
    const before = a.hub.pipeline.stats().totalValid + b.hub.pipeline.stats().totalValid;
    const line = encodeLegacyDataLine([fresh]);
    await Promise.all([sendLegacyLine(a.hub.ports.legacy ?? 0, line), sendLegacyLine(b.hub.ports.legacy ?? 0, line)]);
    const replays = (): number =>
      (a.hub.pipeline.stats().rejectsByReason['legacy_replayed_token'] ?? 0) +
      (b.hub.pipeline.stats().rejectsByReason['legacy_replayed_token'] ?? 0);
    await until(() => replays() === 1);
    await until(() => a.hub.pipeline.stats().totalValid + b.hub.pipeline.stats().totalValid === before + 1);
  });

  it('the same signed HTTP request is taken by one hub and refused replayed_nonce by the other', async () => {
    const payload = JSON.stringify({ readings: [{ seq: 1, ts: Date.now(), data: { t: 1 } }] });
    const headers = { 'content-type': 'application/json', ...signedHeaders(DEVICE_SECRET, 'd1', payload) };
    const send = (hub: TestHub) =>
      fetch(`${base(hub)}/api/v1/ingest/signed`, { method: 'POST', headers, body: payload });
    const answers = await Promise.all([send(a), send(b)]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 409]);
    const refused = answers.find((answer) => answer.status === 409);
    expect(((await refused?.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe(
      'replayed_nonce',
    );
  });

  it("a device's ingest limit is one budget across hubs, with the same 429 answer", async () => {
    const statuses: number[] = [];
    let refusal: unknown;
    for (let i = 0; i < INGEST_LIMIT * 2; i += 1) {
      const payload = JSON.stringify({ readings: [{ seq: i, ts: Date.now(), data: { t: i } }] });
      const headers = { 'content-type': 'application/json', ...signedHeaders(TEST_SECRET, 'limited-1', payload) };
      const answer = await fetch(`${base(i % 2 === 0 ? a : b)}/api/v1/ingest/signed`, {
        method: 'POST',
        headers,
        body: payload,
      });
      statuses.push(answer.status);
      const body: unknown = await answer.json();
      if (answer.status === 429) refusal = body;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(refusal).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'ingest-device', max: INGEST_LIMIT, remaining: 0 } },
    });
  });

  it('an export link issued on one hub is redeemed once on the other', async () => {
    const token = ((await (await login(a, password)).json()) as { token: string }).token;
    const created = await fetch(`${base(a)}/api/v1/exports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ devices: ['twin-0'], from: Date.now() - 3_600_000, to: Date.now() + 1000 }),
    });
    expect(created.status).toBe(201);
    const { url } = (await created.json()) as { url: string };
    const first = await fetch(`${base(b)}${url}`);
    expect(first.status).toBe(200);
    await first.text();
    const again = await fetch(`${base(a)}${url}`);
    expect(again.status).toBe(404);
  });

  it('failed API-key checks are counted across hubs', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i += 1) {
      const hub = i % 2 === 0 ? a : b;
      const answer = await fetch(`${base(hub)}/api/v1/stats`, {
        headers: { 'x-api-key': `ssk_${randomBytes(24).toString('base64url')}` },
      });
      statuses.push(answer.status);
      await answer.text();
    }
    // 20 failures per address and minute in all, whichever hub saw them.
    expect(statuses.filter((status) => status === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
  });

  // Last: it spends this address's login budget on both hubs.
  it('login attempts are limited across hubs with the same 429 answer', async () => {
    const statuses: number[] = [];
    let refusal: unknown;
    for (let i = 0; i < LOGIN_LIMIT * 2 + 2; i += 1) {
      const answer = await login(i % 2 === 0 ? a : b, 'wrong password');
      statuses.push(answer.status);
      const body: unknown = await answer.json();
      if (answer.status === 429) {
        refusal = body;
        expect(answer.headers.get('x-ratelimit-limit')).toBe(String(LOGIN_LIMIT));
      }
    }
    // The export test above logged in once on hub A, so that attempt counts too.
    expect(statuses.filter((status) => status !== 429)).toHaveLength(LOGIN_LIMIT - 1);
    expect(refusal).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'login', max: LOGIN_LIMIT, windowMs: 60_000, remaining: 0 } },
    });
  });
});
