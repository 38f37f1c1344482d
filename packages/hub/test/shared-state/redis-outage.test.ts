/**
 * A hub whose Redis goes away (a redis-server of this test's own, killed by its PID) fails closed:
 * sealed frames, legacy tokens and signed requests are refused `state_unavailable` (counted,
 * dead-lettered; ERROR frame on TCP, 503 on HTTP), logins fail closed, the API's other limits fall back
 * to per-node counting. When Redis is back, the device's resend of the very same bytes is accepted.
 */
import type { ChildProcess } from 'node:child_process';
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
import { failIfRedisRequired, redisAvailability } from '../support/redis.js';
import { freePort, startRedis, stopRedis } from '../support/redis-server.js';
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
// The shared Redis answering stands for "redis-server is installed" (this suite starts its own).
const skip = !redis.available ? redis.reason : !postgres.available ? postgres.reason : null;
if (skip !== null) console.warn(`Redis outage suite skipped: ${skip}`);

const key = deriveDeviceKey(TEST_SECRET);

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function frameOf(device: string, frameId: number): Buffer {
  const now = Date.now();
  const readings = [0, 1, 2].map((i) => ({ device, seq: i, ts: now - i, data: { t: i } }));
  return Buffer.from(sealReadings(readings, key, { suite: CipherSuite.Aes256Gcm, keyId: TEST_KEY_ID, frameId }));
}

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

async function metricValue(hub: TestHub, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${hub.hub.ports.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe.skipIf(skip !== null)('a hub whose Redis goes away', () => {
  let port: number;
  let server: ChildProcess | undefined;
  let hub: TestHub;
  const base = (): string => `http://127.0.0.1:${hub.hub.ports.http}`;

  beforeAll(async () => {
    failIfRedisRequired(redis);
    failIfRequired(postgres);
    port = await freePort();
    server = await startRedis(port);
    hub = await startTestHub('postgres', ['--redis-url', `redis://127.0.0.1:${port}`]);
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    if (server !== undefined) await stopRedis(server);
  });

  it('refuses replay-sensitive input state_unavailable, then takes the resend once Redis is back', async () => {
    const tcp = hub.hub.ports.tcp ?? 0;
    expect(await answerTo(tcp, frameOf('cut-1', 1), 1)).toMatchObject({ type: FrameType.Ack });
    await (hub.hub.store as unknown as AccountStore).createUser({
      username: 'cut-admin',
      role: 'admin',
      passwordHash: await hashPassword('a password for the outage test'),
    });
    const signedIn = await fetch(`${base()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cut-admin', password: 'a password for the outage test' }),
    });
    const { token } = (await signedIn.json()) as { token: string };
    // One process (--role all) names Redis among its dependencies, as the split roles do.
    const health = async (): Promise<{ status: string; deps?: Record<string, string> }> =>
      (await (await fetch(`${base()}/healthz`)).json()) as { status: string; deps?: Record<string, string> };
    expect(await health()).toMatchObject({ status: 'ok', deps: { postgres: 'up', redis: 'up' } });

    await stopRedis(server as ChildProcess);
    server = undefined;
    await until(async () => (await health()).deps?.['redis'] === 'down');
    expect(await health()).toMatchObject({ status: 'degraded', deps: { postgres: 'up', redis: 'down' } });

    // A sealed frame: ERROR state_unavailable (retryable), counted and dead-lettered, not stored.
    const frame = frameOf('cut-2', 2);
    expect(await answerTo(tcp, frame, 2)).toMatchObject({
      type: FrameType.Error,
      code: REASONS.state_unavailable.code,
      reason: 'state_unavailable',
    });
    expect(REASONS.state_unavailable.retryable).toBe(true);
    expect(
      await metricValue(hub, 'sealstream_readings_rejected_total', 'source="tcp",reason="state_unavailable"'),
    ).toBeGreaterThanOrEqual(1);
    await until(async () =>
      (await hub.hub.store.recentDeadLetters(50)).some((letter) => letter.reason === 'state_unavailable'),
    );

    // A legacy token: refused the same way.
    const legacyLine = encodeLegacyDataLine([
      sealLegacyToken({ name: 'Cut', origin: 'Pune', destination: 'Goa' }, legacyKey(LEGACY_ENCRYPTION_KEY)),
    ]);
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    socket.on('error', () => undefined);
    socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
    socket.write(legacyLine);
    await until(() => (hub.hub.pipeline.stats().rejectsByReason.state_unavailable ?? 0) >= 2);
    socket.destroy();

    // A signed HTTP request: 503 state_unavailable with Retry-After.
    const payload = JSON.stringify({ readings: [{ seq: 1, ts: Date.now(), data: { t: 1 } }] });
    const headers = { 'content-type': 'application/json', ...signedHeaders(DEVICE_SECRET, 'd1', payload) };
    const signed = () => fetch(`${base()}/api/v1/ingest/signed`, { method: 'POST', headers, body: payload });
    const refused = await signed();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(await refused.json()).toMatchObject({
      error: { code: 'state_unavailable', details: { reason: 'state_unavailable' } },
    });

    // Logins fail closed; other API calls are still limited, per node, and answered.
    const loginAnswer = await fetch(`${base()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'nobody', password: 'whatever it is' }),
    });
    expect(loginAnswer.status).toBe(503);
    expect(((await loginAnswer.json()) as { error: { code: string } }).error.code).toBe('state_unavailable');
    const read = await fetch(`${base()}/api/v1/stats`);
    expect(read.status).toBe(401);
    expect(read.headers.get('x-ratelimit-limit')).not.toBeNull();
    const withToken = await fetch(`${base()}/api/v1/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(200);
    // Export links and API-key checks fail closed.
    const link = await fetch(`${base()}/api/v1/exports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ devices: ['cut-1'], from: Date.now() - 60_000, to: Date.now() }),
    });
    expect(link.status).toBe(503);
    expect(((await link.json()) as { error: { code: string } }).error.code).toBe('state_unavailable');
    const keyed = await fetch(`${base()}/api/v1/stats`, { headers: { 'x-api-key': 'ssk_not-a-real-key-at-all' } });
    expect(keyed.status).toBe(503);
    await keyed.text();

    // Redis is back (empty: a restart loses the windows, and the store's (device, seq) identity still
    // makes a replay of committed readings harmless). The device resends the very same bytes.
    server = await startRedis(port);
    await until(async () => (await health()).deps?.['redis'] === 'up');
    let answer: Frame | undefined;
    await until(async () => {
      answer = await answerTo(tcp, frame, 2);
      return answer.type === FrameType.Ack;
    });
    expect(answer).toMatchObject({ type: FrameType.Ack, accepted: 3 });
    // And once taken, the same bytes are a replay again.
    expect(await answerTo(tcp, frame, 2)).toMatchObject({ type: FrameType.Error, reason: 'replayed_frame' });
    // The signed request's nonce was not spent while Redis was away.
    expect((await signed()).status).toBe(200);
  }, 60_000);
});
