/**
 * POST /ingest (InsightHub style: device bearer token, {device_id, value, time}) over the real app,
 * pipeline and PGlite store, and the device-token format itself.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceToken, deviceTokenMatches, parseDeviceToken } from '@sealstream/protocol';
import { HttpJsonClient } from '@sealstream/emitter';
import { insighthubSeq } from '../../../src/ingest/http/insighthub-route.js';
import { post, startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const SECRET = randomBytes(32);
const REVOKED = randomBytes(32);
const SHARED = randomBytes(32);

let hub: IngestHarness;
beforeAll(async () => {
  hub = await startIngestHarness({
    keys: [
      { keyId: 'ih-key', secret: SECRET, devices: ['ih-1'] },
      { keyId: 'ih-revoked', secret: REVOKED, devices: ['ih-r'], revoked: true },
      { keyId: 'ih-shared', secret: SHARED, devices: 'any' },
    ],
  });
});
afterAll(async () => {
  await hub?.stop();
});

function send(path: string, token: string | undefined, payload: unknown) {
  return post(hub.base, path, JSON.stringify(payload), {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  });
}

describe('device tokens', () => {
  it('round-trip: sst_<keyId>_<base64url mac>, verified in constant time against the secret', () => {
    const token = deviceToken('key.1:a-b', SECRET);
    expect(token).toMatch(/^sst_key\.1:a-b_[A-Za-z0-9_-]{43}$/);
    const parsed = parseDeviceToken(token);
    expect(parsed?.keyId).toBe('key.1:a-b');
    expect(deviceTokenMatches(parsed?.mac ?? Buffer.alloc(0), SECRET)).toBe(true);
    expect(deviceTokenMatches(parsed?.mac ?? Buffer.alloc(0), randomBytes(32))).toBe(false);
  });

  it('refuses anything not of the token shape', () => {
    const token = deviceToken('k1', SECRET);
    for (const bad of [
      '',
      'sst_',
      'sst_k1_',
      token.slice(0, -1),
      `${token}A`,
      token.replace('sst_', 'sso_'),
      `sst__${token.slice(7)}`,
    ]) {
      expect(parseDeviceToken(bad), bad).toBeUndefined();
    }
  });
});

describe('POST /ingest (InsightHub)', () => {
  it('stores a reading and answers 202 after commit; a retry of the same reading is a harmless duplicate', async () => {
    const token = deviceToken('ih-key', SECRET);
    const item = { device_id: 'ih-1', value: 21.5, time: new Date().toISOString() };
    const first = await send('/ingest', token, item);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
    const rows = await hub.readings('ih-1');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      device: 'ih-1',
      data: { value: 21.5 },
      ts: Date.parse(item.time),
      seq: insighthubSeq('ih-1', item.time, 21.5),
      source: 'http',
    });
    const retry = await send('/ingest', token, item);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ accepted: 0, duplicates: 1, rejected: 0 });
    expect(await hub.readings('ih-1')).toHaveLength(1);
  });

  it('accepts an array, ms times, an explicit seq, and the /api/v1/ingest/readings alias', async () => {
    const token = deviceToken('ih-key', SECRET);
    const now = Date.now();
    const answer = await send('/api/v1/ingest/readings', token, [
      { device_id: 'ih-1', value: 1, time: now, seq: 7 },
      { device_id: 'ih-1', value: -0.5, time: now + 1 },
      { device_id: 'ih-1', value: 3, time: 'yesterday-ish' },
      { device_id: 'ih-1', value: 4, time: now, unit: 'C' },
    ]);
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: 2, duplicates: 0, rejected: 2 });
    const rows = await hub.readings('ih-1');
    expect(rows.some((row) => row.seq === 7 && row.ts === now)).toBe(true);
    expect(rows.some((row) => row.ts === now + 1 && JSON.stringify(row.data) === '{"value":-0.5}')).toBe(true);
  });

  it('the emitter client speaks it', async () => {
    const client = new HttpJsonClient({ baseUrl: hub.base, deviceId: 'ih-1', secret: SECRET, keyId: 'ih-key' });
    const answer = await client.sendInsightHub([{ value: 99, time: Date.now(), seq: 1_000 }]);
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('refuses a JWT bearer with 401 bad_token when no ingest JWT secret is configured', async () => {
    const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}`;
    const token = `${input}.${createHmac('sha256', 'any-secret-whatsoever-0123').update(input).digest('base64url')}`;
    const answer = await send('/ingest', token, { device_id: 'ih-1', value: 1, time: Math.floor(Date.now() / 1000) });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.details?.reason).toBe('bad_token');
  });

  it('refuses a missing or bad token (401) and dead-letters the body', async () => {
    const item = { device_id: 'ih-1', value: 1, time: Date.now() };
    const missing = await send('/ingest', undefined, item);
    expect(missing.status).toBe(401);
    expect(missing.body.error?.details?.reason).toBe('missing_auth');
    const wrongMac = deviceToken('ih-key', randomBytes(32));
    const unknownKey = deviceToken('no-such-key', SECRET);
    for (const token of [wrongMac, unknownKey, 'not-a-token', deviceToken('ih-key', SECRET).slice(0, -2)]) {
      const answer = await send('/ingest', token, item);
      expect(answer.status, token).toBe(401);
      expect(answer.body.error).toMatchObject({ code: 'unauthorized', details: { reason: 'bad_token' } });
      // The answer never echoes the token.
      expect(JSON.stringify(answer.body)).not.toContain(token);
    }
    const letters = await hub.deadLetters('bad_token', 4);
    expect(letters.length).toBeGreaterThanOrEqual(4);
    expect(letters.every((letter) => !letter.detail.includes('sst_'))).toBe(true);
  });

  it('refuses a revoked key (401 revoked_key) and a device the key may not speak for (403)', async () => {
    const revoked = await send('/ingest', deviceToken('ih-revoked', REVOKED), {
      device_id: 'ih-r',
      value: 1,
      time: Date.now(),
    });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error?.details?.reason).toBe('revoked_key');
    expect(await hub.readings('ih-r')).toHaveLength(0);

    const notAllowed = await send('/ingest', deviceToken('ih-key', SECRET), [
      { device_id: 'ih-1', value: 1, time: Date.now() },
      { device_id: 'ih-other', value: 1, time: Date.now() },
    ]);
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'device_not_allowed' } });
    expect(await hub.readings('ih-other')).toHaveLength(0);
    expect(await hub.deadLetters('device_not_allowed')).not.toHaveLength(0);

    // A shared key may speak for any device.
    const shared = await send('/ingest', deviceToken('ih-shared', SHARED), {
      device_id: 'ih-other',
      value: 1,
      time: Date.now(),
    });
    expect(shared.status).toBe(202);
  });

  it('refuses a reading with an unknown field under its own name, also one named like a reading key', async () => {
    const token = deviceToken('ih-key', SECRET);
    const time = Date.now();
    for (const [extra, named] of [
      ['"junk":1', '"junk"'],
      ['"ts":1', '"ts (extra)"'],
      ['"__proto__":{"x":1}', '"__proto__"'],
    ] as const) {
      const body = `{"device_id":"ih-1","value":1,"time":${time},${extra}}`;
      const answer = await post(hub.base, '/ingest', body, {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
      expect(answer.status, extra).toBe(400);
      expect(answer.body.error?.details?.reason, extra).toBe('schema_invalid');
      expect(JSON.stringify(answer.body), extra).toContain(`unexpected field ${named.replace(/"/g, '\\"')}`);
    }
  });

  it('refuses a reading without a numeric value or a usable time under the name the client sent (400 schema_invalid), alone', async () => {
    const token = deviceToken('ih-key', SECRET);
    const time = Math.floor(Date.now() / 1000);
    for (const [item, says] of [
      [{ device_id: 'ih-1', time }, 'value is missing'],
      [{ device_id: 'ih-1', time, value: null }, 'value must be a number (got null)'],
      [{ device_id: 'ih-1', time, value: '21.5' }, 'value must be a number (got string)'],
      [{ device_id: 'ih-1', time, value: { t: 1 } }, 'value must be a number (got object)'],
      [{ device_id: 'ih-1', time, value: [1] }, 'value must be a number (got array)'],
      [{ device_id: 'ih-1', value: 1 }, 'time is missing'],
      [{ device_id: 'ih-1', value: 1, time: 'yesterday' }, 'time must be an integer'],
      [{ device_id: 'ih-1', value: 1, time: 1.5 }, 'time must be an integer'],
    ] as const) {
      const answer = await send('/ingest', token, item);
      expect(answer.status, says).toBe(400);
      expect(answer.body.error?.details?.reason, says).toBe('schema_invalid');
      expect(answer.body.error?.message, says).toContain(says);
    }
    // In an array the item is refused alone, counted in rejected; its neighbour is stored.
    const mixed = await send('/ingest', token, [
      { device_id: 'ih-1', time, value: 'hot' },
      { device_id: 'ih-1', time, value: 19.25 },
    ]);
    expect(mixed.status).toBe(202);
    expect(mixed.body).toEqual({ accepted: 1, duplicates: 0, rejected: 1 });
    const letters = await hub.deadLetters('schema_invalid', 6);
    expect(letters.some((letter) => letter.detail.includes('value must be a number (got string)'))).toBe(true);
    expect(letters.some((letter) => letter.device === 'ih-1' && letter.detail.includes('value is missing'))).toBe(true);
  });

  it('refuses bodies that are not readings (400 malformed_body)', async () => {
    const token = deviceToken('ih-key', SECRET);
    for (const payload of [[], 'text', { value: 1, time: 1 }, [1, 2]]) {
      const answer = await send('/ingest', token, payload);
      expect(answer.status, JSON.stringify(payload)).toBe(400);
      expect(answer.body.error?.details?.reason).toBe('malformed_body');
    }
  });

  it('refuses a body that is not valid UTF-8 (400 malformed_body) instead of storing U+FFFD', async () => {
    const token = deviceToken('ih-key', SECRET);
    const text = JSON.stringify({ device_id: 'ih-X', value: 1, time: Date.now() });
    const at = text.indexOf('ih-X') + 3;
    const body = Buffer.from(text, 'utf8');
    body[at] = 0xff; // never valid in UTF-8
    const answer = await post(hub.base, '/ingest', body, {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error?.details?.reason).toBe('malformed_body');
    body[at] = 0x31; // the same body, valid again ("ih-1"), is accepted
    const fixed = await post(hub.base, '/ingest', body, {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });
    expect(fixed.status).toBe(202);
  });
});
