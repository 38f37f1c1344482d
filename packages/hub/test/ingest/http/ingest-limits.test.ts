/**
 * HTTP ingest under pressure, over real parts: a commit queue filled for real (commits held open) gives
 * 503 + Retry-After on all three routes; per-device / per-key rate limits answer the API's 429 shape and
 * are spent only by authenticated traffic, never by replays of captured requests; the nonce window caps
 * each device so one cannot lock the others out; body limits; good traffic is unaffected by concurrent
 * bad traffic; and the routes are in the OpenAPI document.
 */
import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceToken, type Reading } from '@sealstream/protocol';
import { HttpFramesClient, signedHeaders } from '@sealstream/emitter';
import { post, startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const SECRET = randomBytes(32);
const KEYS = [{ keyId: 'l-key', secret: SECRET, devices: 'any' as const }];
const JSON_TYPE = { 'content-type': 'application/json' };

function readings(device: string, fromSeq: number, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ device, seq: fromSeq + i, ts: now, data: { v: i } }));
}

function signedBody(fromSeq: number, count: number): string {
  return JSON.stringify({ readings: readings('x', fromSeq, count).map(({ seq, ts, data }) => ({ seq, ts, data })) });
}

function sendSigned(
  hub: IngestHarness,
  device: string,
  payload: string,
  headers = signedHeaders(SECRET, device, payload),
) {
  return post(hub.base, '/api/v1/ingest/signed', payload, { ...JSON_TYPE, ...headers });
}

function sendInsightHub(hub: IngestHarness, device: string, value: number) {
  return post(hub.base, '/ingest', JSON.stringify({ device_id: device, value, time: Date.now() }), {
    ...JSON_TYPE,
    authorization: `Bearer ${deviceToken('l-key', SECRET)}`,
  });
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('overload: 503 with Retry-After', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({ keys: KEYS, limits: { highWaterRows: 12, maxQueuedRows: 15 } });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('answers 503 when the commit queue refuses, and before reading anything while saturated', async () => {
    const frames = new HttpFramesClient({ baseUrl: hub.base, keyId: 'l-key', secret: SECRET });
    hub.hold();
    const aBody = signedBody(0, 10);
    const a = sendSigned(hub, 'o-a', aBody);
    await until(() => hub.pipeline.queuedRows === 10);

    // The queue bound refuses B's 10 rows: overloaded from the pipeline's answer.
    const b = await sendSigned(hub, 'o-b', signedBody(0, 10));
    expect(b.status).toBe(503);
    expect(b.headers.get('retry-after')).toBe('1');
    expect(b.body.error).toMatchObject({ code: 'overloaded', details: { reason: 'overloaded', retryable: true } });

    // Same for a frames body whose every frame the queue refuses: 503, outcomes in details.
    const framesRefused = await frames.send([readings('o-g', 0, 6), readings('o-g', 6, 6)]);
    expect(framesRefused.status).toBe(503);
    expect(framesRefused.retryAfterSeconds).toBe(1);
    expect(framesRefused.body).toMatchObject({
      error: {
        code: 'overloaded',
        details: {
          reason: 'overloaded',
          frames: [
            { outcome: 'error', reason: 'overloaded' },
            { outcome: 'error', reason: 'overloaded' },
          ],
        },
      },
    });

    // C's 3 rows fit but lift the queue over its high-water mark: the pipeline is saturated.
    const c = frames.send([readings('o-c', 0, 3)]);
    await until(() => hub.pipeline.saturated);

    const fBody = signedBody(0, 1);
    const fHeaders = signedHeaders(SECRET, 'o-f', fBody);
    const signedWhileSaturated = await sendSigned(hub, 'o-f', fBody, fHeaders);
    const tokenWhileSaturated = await sendInsightHub(hub, 'o-d', 1);
    const framesWhileSaturated = await frames.send([readings('o-e', 0, 1)]);
    expect(signedWhileSaturated.status).toBe(503);
    expect(signedWhileSaturated.body.error?.details?.reason).toBe('overloaded');
    expect(tokenWhileSaturated.status).toBe(503);
    expect(tokenWhileSaturated.headers.get('retry-after')).toBe('1');
    expect(framesWhileSaturated.status).toBe(503);
    expect(framesWhileSaturated.retryAfterSeconds).toBe(1);

    hub.release();
    expect((await a).body).toEqual({ accepted: 10, duplicates: 0, rejected: 0 });
    expect((await c).body).toMatchObject({ accepted: 3 });
    // Nothing refused was stored.
    for (const device of ['o-b', 'o-d', 'o-e', 'o-f', 'o-g']) expect(await hub.readings(device)).toHaveLength(0);
    // Refused before its body was read, F's nonce was never spent: the same signed request now goes through.
    expect((await sendSigned(hub, 'o-f', fBody, fHeaders)).status).toBe(200);
    // B was refused after its nonce was recorded: a retry is signed again (fresh nonce).
    expect((await sendSigned(hub, 'o-b', signedBody(0, 10))).status).toBe(200);
  });
});

describe('rate limits and body limits', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({
      keys: [
        ...KEYS,
        { keyId: 'k-frames', secret: SECRET, devices: 'any' },
        { keyId: 'k-replay', secret: SECRET, devices: 'any' },
      ],
      ingest: { rateLimit: { perDevicePerWindow: 3, windowMs: 60_000 }, bodyLimitBytes: 4096 },
      // The API's own per-address limit is on and low: ingest routes must not be subject to it.
      apiRateLimits: { apiPerWindow: 2, loginPerWindow: 2, windowMs: 60_000 },
    });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('per device: the fourth request is 429 with the limit named, window, remaining and reset', async () => {
    for (let i = 0; i < 3; i += 1) {
      const answer = await sendSigned(hub, 'r-1', signedBody(i, 1));
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    }
    const refused = await sendSigned(hub, 'r-1', signedBody(3, 1));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'ingest-device', max: 3, windowMs: 60_000, remaining: 0 },
    });
    const reset = refused.body.error?.details?.resetSeconds ?? 0;
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // The InsightHub route shares the device's budget.
    expect((await sendInsightHub(hub, 'r-1', 1)).status).toBe(429);
    // Another device is unaffected.
    expect((await sendInsightHub(hub, 'r-other', 1)).status).toBe(202);
  });

  it('forged requests do not spend a device budget', async () => {
    for (let i = 0; i < 6; i += 1) {
      const payload = signedBody(i, 1);
      const forged = await sendSigned(hub, 'r-2', payload, signedHeaders(randomBytes(32), 'r-2', payload));
      expect(forged.status).toBe(401);
    }
    for (let i = 0; i < 3; i += 1) expect((await sendSigned(hub, 'r-2', signedBody(i, 1))).status).toBe(200);
  });

  it('per key id for frames: requests that authenticated spend it, forged frames do not; over it nothing is processed', async () => {
    const client = new HttpFramesClient({ baseUrl: hub.base, keyId: 'k-frames', secret: SECRET });
    const forger = new HttpFramesClient({ baseUrl: hub.base, keyId: 'k-frames', secret: randomBytes(32) });
    for (let i = 0; i < 5; i += 1) {
      expect((await forger.send([readings('kf-x', i, 1)])).body).toMatchObject({
        frames: [{ reason: 'integrity_failed' }],
      });
    }
    for (let i = 0; i < 3; i += 1) {
      const answer = await client.send([readings('kf-1', i * 2, 1), readings('kf-1', i * 2 + 1, 1)]);
      expect(answer.body).toMatchObject({ accepted: 2 });
    }
    const refused = await client.send([readings('kf-1', 6, 1)]);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'ingest-key', max: 3, remaining: 0 } },
    });
    expect(await hub.readings('kf-1')).toHaveLength(6);
  });

  it('replaying a captured signed request does not spend the device budget', async () => {
    const payload = signedBody(0, 1);
    const captured = signedHeaders(SECRET, 'r-replay', payload);
    const genuine = await sendSigned(hub, 'r-replay', payload, captured);
    expect(genuine.status).toBe(200);
    expect(genuine.headers.get('x-ratelimit-remaining')).toBe('2');
    // An eavesdropper replays it, well past the limit of 3: each is refused as a replay, none is charged.
    for (let i = 0; i < 6; i += 1) {
      const replay = await sendSigned(hub, 'r-replay', payload, captured);
      expect(replay.status).toBe(409);
      expect(replay.body.error?.details?.reason).toBe('replayed_nonce');
    }
    // The real device still has its budget.
    for (let i = 1; i < 3; i += 1) expect((await sendSigned(hub, 'r-replay', signedBody(i, 1))).status).toBe(200);
    expect((await sendSigned(hub, 'r-replay', signedBody(3, 1))).status).toBe(429);
    expect((await hub.readings('r-replay')).map((row) => row.seq)).toEqual([0, 1, 2]);
  });

  it('replaying a captured frame does not spend the key budget', async () => {
    const client = new HttpFramesClient({ baseUrl: hub.base, keyId: 'k-replay', secret: SECRET });
    const captured = client.seal(readings('kr-1', 0, 1));
    const genuine = await client.postFrames([captured]);
    expect(genuine.body).toMatchObject({ accepted: 1 });
    for (let i = 0; i < 6; i += 1) {
      const replay = await client.postFrames([captured]);
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ frames: [{ outcome: 'error', reason: 'replayed_frame' }] });
    }
    // The real device still has its budget: two more requests, then the limit of 3.
    for (let i = 1; i < 3; i += 1)
      expect((await client.send([readings('kr-1', i, 1)])).body).toMatchObject({ accepted: 1 });
    expect((await client.send([readings('kr-1', 3, 1)])).status).toBe(429);
    expect(await hub.readings('kr-1')).toHaveLength(3);
  });

  it('a body over the limit is 413; the API per-address limit does not apply to ingest', async () => {
    const big = signedBody(0, 200);
    expect(big.length).toBeGreaterThan(4096);
    const answer = await sendSigned(hub, 'r-3', big);
    expect(answer.status).toBe(413);
    expect(answer.body.error?.code).toBe('payload_too_large');
    // Refused before any handler ran, yet counted and dead-lettered like every other ingest refusal.
    expect(await hub.metrics.registry.metrics()).toMatch(
      /sealstream_readings_rejected_total\{source="http",reason="body_too_large"\} 1\n/,
    );
    const [letter] = await hub.deadLetters('body_too_large', 1);
    expect(letter).toMatchObject({ source: 'http', reason: 'body_too_large', device: null });
    // Well past the API's 2 requests per address, ingest answers on its own terms.
    for (let i = 0; i < 3; i += 1) expect((await sendInsightHub(hub, `r-many-${i}`, i)).status).toBe(202);
  });
});

describe('nonce window bound', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({ keys: KEYS, ingest: { nonceWindowMaxEntries: 2 } });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('forged requests never enter it; when full of live nonces it fails closed with 503', async () => {
    for (let i = 0; i < 5; i += 1) {
      const payload = signedBody(i, 1);
      expect((await sendSigned(hub, 'n-1', payload, signedHeaders(randomBytes(32), 'n-1', payload))).status).toBe(401);
    }
    expect((await sendSigned(hub, 'n-1', signedBody(0, 1))).status).toBe(200);
    expect((await sendSigned(hub, 'n-1', signedBody(1, 1))).status).toBe(200);
    const full = await sendSigned(hub, 'n-1', signedBody(2, 1));
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(full.body.error?.details?.reason).toBe('overloaded');
    expect((await hub.readings('n-1')).map((row) => row.seq)).toEqual([0, 1]);
  });
});

describe('nonce window: per-device bound', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({ keys: KEYS, ingest: { nonceWindowMaxEntries: 10, nonceWindowMaxPerDevice: 3 } });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('one device flooding signed requests is refused at its own bound; other devices go on', async () => {
    for (let i = 0; i < 3; i += 1) expect((await sendSigned(hub, 'flood', signedBody(i, 1))).status).toBe(200);
    const captured = signedBody(0, 1);
    const capturedHeaders = signedHeaders(SECRET, 'flood', captured);
    // Enough to fill the whole window (10) were they recorded.
    for (let i = 3; i < 20; i += 1) {
      const refused = await sendSigned(hub, 'flood', signedBody(i, 1));
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({
        code: 'rate_limited',
        details: { limit: 'ingest-device-nonces', max: 3, windowMs: 300_000, remaining: 0 },
      });
      // Its oldest nonce expires about a tolerance (300 s) after it was recorded.
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(250);
      expect(retryAfter).toBeLessThanOrEqual(300);
    }
    expect((await hub.readings('flood')).map((row) => row.seq)).toEqual([0, 1, 2]);
    // Every device with its own budget of the window still gets through.
    for (const device of ['calm-1', 'calm-2']) {
      for (let i = 0; i < 3; i += 1) expect((await sendSigned(hub, device, signedBody(i, 1))).status).toBe(200);
      expect(await hub.readings(device)).toHaveLength(3);
    }
    // Fail closed: a nonce of the capped device is not forgotten; its replay is still refused as one.
    const first = await sendSigned(hub, 'calm-3', captured, signedHeaders(SECRET, 'calm-3', captured));
    expect(first.status).toBe(200);
    expect((await sendSigned(hub, 'flood', captured, capturedHeaders)).status).toBe(429);
  });
});

describe('concurrency and documentation', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({ keys: KEYS });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('good traffic is stored exactly while bad requests arrive at the same time', async () => {
    const frames = new HttpFramesClient({ baseUrl: hub.base, keyId: 'l-key', secret: SECRET });
    const good: Array<Promise<{ status: number }>> = [];
    const bad: Array<Promise<{ status: number }>> = [];
    for (let i = 0; i < 20; i += 1) {
      good.push(sendSigned(hub, 'c-signed', signedBody(i * 10, 10)));
      good.push(frames.send([readings('c-frames', i * 10, 10)]));
      good.push(sendInsightHub(hub, 'c-token', i));
      const payload = signedBody(i, 1);
      bad.push(
        sendSigned(hub, 'c-signed', payload, { ...signedHeaders(SECRET, 'c-signed', payload), 'x-nonce': 'zz' }),
      );
      bad.push(
        post(hub.base, '/api/v1/ingest/frames', randomBytes(64), { 'content-type': 'application/octet-stream' }),
      );
      bad.push(
        post(hub.base, '/ingest', '{"device_id":"c-token","value":1,"time":1}', {
          ...JSON_TYPE,
          authorization: 'Bearer sst_l-key_xxxx',
        }),
      );
    }
    const goodAnswers = await Promise.all(good);
    const badAnswers = await Promise.all(bad);
    expect(goodAnswers.map((a) => a.status).filter((s) => s !== 200 && s !== 202)).toEqual([]);
    expect(badAnswers.every((a) => a.status >= 400 && a.status < 500)).toBe(true);
    expect(await hub.readings('c-signed')).toHaveLength(200);
    expect(await hub.readings('c-frames')).toHaveLength(200);
    expect(await hub.readings('c-token')).toHaveLength(20);
  });

  it('hostile bodies, headers and content types never answer 5xx, and every refusal has an error code', async () => {
    const token = deviceToken('l-key', SECRET);
    const bodies: Array<string | Buffer> = [
      '',
      '{}',
      '[]',
      'null',
      '{"readings":{}}',
      '{"readings":[null]}',
      '{"__proto__":{"x":1},"readings":[{"seq":1,"ts":1,"data":{}}]}',
      '[{"device_id":{"a":1},"value":1,"time":1}]',
      '[{"device_id":"h","value":1,"time":"2026-13-45T99:99:99Z"}]',
      randomBytes(300),
      Buffer.alloc(5000, 0xff),
    ];
    const headerSets: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${token}` },
      { authorization: 'Bearer ' + 'A'.repeat(2000) },
      {
        'x-device-id': 'h',
        'x-timestamp': String(Date.now()),
        'x-nonce': '0'.repeat(32),
        'x-hmac-signature': '0'.repeat(64),
      },
    ];
    const types = ['application/json', 'application/octet-stream', 'text/plain', 'application/json; charset=utf-8'];
    const failures: string[] = [];
    for (const path of ['/api/v1/ingest/frames', '/api/v1/ingest/signed', '/ingest', '/api/v1/ingest/readings']) {
      for (const body of bodies) {
        for (const headers of headerSets) {
          for (const type of types) {
            const answer = await post(hub.base, path, body, { 'content-type': type, ...headers });
            if (answer.status >= 500) failures.push(`${path} ${type} -> ${answer.status}`);
            if (answer.status >= 400 && typeof answer.body.error?.code !== 'string') {
              failures.push(`${path} ${type} -> ${answer.status} without an error code`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('the ingest routes are in a valid OpenAPI document, tagged ingest, with their answers', async () => {
    const doc = (await (await fetch(`${hub.base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, unknown> }>>;
    };
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    const expected: Array<[string, string]> = [
      ['/api/v1/ingest/frames', '200'],
      ['/api/v1/ingest/signed', '200'],
      ['/ingest', '202'],
      ['/api/v1/ingest/readings', '202'],
    ];
    for (const [path, status] of expected) {
      const operation = doc.paths[path]?.['post'];
      expect(operation?.tags, path).toEqual(['ingest']);
      expect(Object.keys(operation?.responses ?? {}), path).toEqual(expect.arrayContaining([status, '4XX', '5XX']));
    }
    for (const route of hub.routes.filter((r) => r.method === 'POST' && r.url.includes('ingest'))) {
      expect(doc.paths[route.url]?.['post'], route.url).toBeDefined();
    }
  });
});
