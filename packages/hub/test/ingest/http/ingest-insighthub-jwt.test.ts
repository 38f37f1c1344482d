/**
 * POST /ingest exactly as IoT InsightHub's clients send it (design §4.8): an HS256 JWT bearer made with
 * node:crypto the way they make it, `{"device_id","value","time"}` with `time` in Unix SECONDS, success
 * 202 — over the real app, pipeline and PGlite store. And the safety around it: other algorithms and
 * `none` refused, `exp` honoured, devices only when the registry knows them, and never a 2xx for a
 * request whose readings were all refused (those clients look only at the status).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const JWT_SECRET = 'insighthub-jwt-secret-for-tests-0123456789';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** What InsightHub's clients do: header {alg: HS256, typ: JWT}, any claims, HMAC-SHA256 over "header.payload". */
function jwt(claims: object, secret = JWT_SECRET, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The k6 script's request, byte for byte in shape. */
function insightHubRequest(base: string, token: string, body: object | string) {
  return post(base, '/ingest', typeof body === 'string' ? body : JSON.stringify(body), {
    'Content-Type': 'application/json',
    Authorization: `Bearer ${token}`,
  });
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('POST /ingest with an InsightHub HS256 JWT', () => {
  let hub: IngestHarness;
  beforeAll(async () => {
    hub = await startIngestHarness({
      keys: [
        { keyId: 'ih-dev-key', secret: randomBytes(32), devices: ['ih-dev-1', 'ih-dev-2'] },
        { keyId: 'ih-gone-key', secret: randomBytes(32), devices: ['ih-gone'], revoked: true },
        // A gateway key: outside demo it must not open every device id to JWT holders.
        { keyId: 'gateway', secret: randomBytes(32), devices: 'any' },
      ],
      ingest: { ingestJwtSecret: JWT_SECRET },
    });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('accepts the clients request unchanged: 202, time read as Unix seconds', async () => {
    const time = nowSeconds();
    const answer = await insightHubRequest(hub.base, jwt({ sub: 'k6', iat: time }), {
      device_id: 'ih-dev-1',
      value: 23.4,
      time,
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
    const rows = await hub.readings('ih-dev-1');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ device: 'ih-dev-1', ts: time * 1000, data: { value: 23.4 }, source: 'http' });
  });

  it('accepts a token with no claims at all, and one whose exp is still ahead', async () => {
    const a = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-2', value: 1, time: nowSeconds() });
    expect(a.status).toBe(202);
    const b = await insightHubRequest(hub.base, jwt({ exp: nowSeconds() + 60 }), {
      device_id: 'ih-dev-2',
      value: 2,
      time: nowSeconds(),
    });
    expect(b.status).toBe(202);
  });

  it('refuses bad tokens with 401 bad_token: wrong secret, alg none, another alg, expired, not yet valid', async () => {
    const body = { device_id: 'ih-dev-1', value: 5, time: nowSeconds() };
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'x' })}.`;
    const hs512Input = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url({})}`;
    const hs512 = `${hs512Input}.${createHmac('sha512', JWT_SECRET).update(hs512Input).digest('base64url')}`;
    const cases = {
      wrongSecret: jwt({}, 'another-secret-of-enough-length-000'),
      algNone: unsigned,
      algNoneWithValidMac: jwt({}, JWT_SECRET, { alg: 'none' }),
      hs512,
      expired: jwt({ exp: nowSeconds() - 60 }),
      notYet: jwt({ nbf: nowSeconds() + 600 }),
      tampered: jwt({ sub: 'a' }).replace(/\.[^.]+\./, `.${b64url({ sub: 'b' })}.`),
    };
    for (const [name, token] of Object.entries(cases)) {
      const answer = await insightHubRequest(hub.base, token, body);
      expect(answer.status, name).toBe(401);
      expect(answer.body.error?.details?.reason, name).toBe('bad_token');
    }
    expect(await hub.readings('ih-dev-1')).toHaveLength(1);
    // Counted and dead-lettered like every other refusal, without the token.
    const letters = await hub.deadLetters('bad_token', Object.keys(cases).length);
    expect(letters.length).toBeGreaterThanOrEqual(Object.keys(cases).length);
    for (const letter of letters) expect(Buffer.from(letter.raw).toString()).not.toContain(JWT_SECRET);
  });

  it('refuses a missing bearer with 401 missing_auth', async () => {
    const answer = await post(hub.base, '/ingest', JSON.stringify({ device_id: 'ih-dev-1', value: 1, time: 1 }), {
      'Content-Type': 'application/json',
    });
    expect(answer.status).toBe(401);
  });

  it('allows only devices the registry knows: unknown, revoked-only and gateway-only devices get 403', async () => {
    for (const device of ['ih-unknown', 'ih-gone']) {
      const answer = await insightHubRequest(hub.base, jwt({}), { device_id: device, value: 1, time: nowSeconds() });
      expect(answer.status, device).toBe(403);
      expect(answer.body.error?.details?.reason, device).toBe('device_not_allowed');
    }
    // One unknown device in an array refuses the whole request: nothing of it is stored.
    const mixed = await insightHubRequest(hub.base, jwt({}), [
      { device_id: 'ih-dev-2', value: 9, time: nowSeconds() },
      { device_id: 'ih-unknown', value: 9, time: nowSeconds() },
    ]);
    expect(mixed.status).toBe(403);
    expect((await hub.readings('ih-dev-2')).some((row) => row.data['value'] === 9)).toBe(false);
  });

  it('never answers 2xx when every reading was refused; a partly refused request is 202 with counts', async () => {
    // Seconds from 1970: far outside the accepted age.
    const stale = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-1', value: 7, time: 1000 });
    expect(stale.status).toBe(400);
    expect(stale.body.error?.details?.reason).toBe('timestamp_out_of_range');
    const noValue = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-1', time: nowSeconds() });
    expect(noValue.status).toBe(400);
    expect(noValue.body.error?.details?.reason).toBe('schema_invalid');
    const partly = await insightHubRequest(hub.base, jwt({}), [
      { device_id: 'ih-dev-1', value: 8, time: nowSeconds() },
      { device_id: 'ih-dev-1', value: 8, time: 1000 },
    ]);
    expect(partly.status).toBe(202);
    expect(partly.body).toEqual({ accepted: 1, duplicates: 0, rejected: 1 });
    // A resend of a stored reading is a duplicate, not a refusal: still 202.
    const time = nowSeconds() - 5;
    const first = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-2', value: 3, time });
    const again = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-2', value: 3, time });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: 0 });
  });

  it('refuses a bad payload with 400', async () => {
    for (const body of ['not json', '[]', JSON.stringify({ value: 1, time: nowSeconds() })]) {
      const answer = await insightHubRequest(hub.base, jwt({}), body);
      expect(answer.status, body).toBe(400);
      expect(answer.body.error?.details?.reason, body).toBe('malformed_body');
    }
  });

  it('still reads integer times at or above 10^11 as milliseconds', async () => {
    const ms = Date.now();
    const answer = await insightHubRequest(hub.base, jwt({}), { device_id: 'ih-dev-2', value: 42, time: ms });
    expect(answer.status).toBe(202);
    expect((await hub.readings('ih-dev-2')).some((row) => row.ts === ms && row.data['value'] === 42)).toBe(true);
  });
});

describe('POST /ingest JWT bearers in demo mode', () => {
  let shared: IngestHarness;
  beforeAll(async () => {
    shared = await startIngestHarness({
      keys: [{ keyId: 'demo', secret: randomBytes(32), devices: 'any' }],
      ingest: { ingestJwtSecret: JWT_SECRET, ingestJwtAllowsSharedKeys: true },
    });
  }, 180_000);
  afterAll(async () => {
    await shared?.stop();
  });

  it('shared keys allowed: any device id the demo key speaks for', async () => {
    const answer = await insightHubRequest(shared.base, jwt({}), {
      device_id: 'insighthub-sensor-17',
      value: 1,
      time: nowSeconds(),
    });
    expect(answer.status).toBe(202);
  });
});
