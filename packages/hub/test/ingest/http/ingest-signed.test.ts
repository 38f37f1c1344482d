/**
 * POST /api/v1/ingest/signed (XRayIOT-style HMAC headers) over the real app, pipeline and PGlite store:
 * good requests are stored after commit; every authentication failure is refused fail-closed with its
 * reason code, counted and dead-lettered with the raw body; key rotation and revocation; and a property:
 * any single-bit change of the body, timestamp, nonce or signature is refused.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders, signXRayIotRequest } from '@sealstream/emitter';
import { expectedSignature, readSignatureHeaders, signRequestHex } from '../../../src/ingest/http/hmac-signature.js';
import { post, startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const ROUTE = '/api/v1/ingest/signed';
const SECRET = randomBytes(32);
const ROT_OLD = randomBytes(32);
const ROT_NEW = randomBytes(32);
const REV_OLD = randomBytes(32);
const REV_NEW = randomBytes(32);

let hub: IngestHarness;
beforeAll(async () => {
  hub = await startIngestHarness({
    keys: [
      { keyId: 's-key', secret: SECRET, devices: ['s-1', 's-2'] },
      { keyId: 'rot-old', secret: ROT_OLD, devices: ['rot-1'] },
      { keyId: 'rot-new', secret: ROT_NEW, devices: ['rot-1'] },
      { keyId: 'rev-old', secret: REV_OLD, devices: ['rev-1'], revoked: true },
      { keyId: 'rev-new', secret: REV_NEW, devices: ['rev-1'] },
    ],
  });
});
afterAll(async () => {
  await hub?.stop();
});

function body(device: string | undefined, seq: number, count = 1): string {
  const ts = Date.now();
  const readings = Array.from({ length: count }, (_, i) => ({
    ...(device === undefined ? {} : { device }),
    seq: seq + i,
    ts,
    data: { t: 20 + i },
  }));
  return JSON.stringify({ readings });
}

function send(headers: Record<string, string>, payload: string | Buffer) {
  return post(hub.base, ROUTE, payload, { 'content-type': 'application/json', ...headers });
}

describe('POST /api/v1/ingest/signed', () => {
  it('stores a signed batch after commit and answers 200 with counts', async () => {
    const payload = body(undefined, 0, 3);
    const answer = await send(signedHeaders(SECRET, 's-1', payload), payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ accepted: 3, duplicates: 0, rejected: 0 });
    const rows = await hub.readings('s-1');
    expect(rows.map((row) => row.seq)).toEqual([0, 1, 2]);
    expect(rows[0]).toMatchObject({ source: 'http', data: { t: 20 } });

    // A single reading (no envelope) with its own matching device, timestamp in seconds.
    const single = JSON.stringify({ device: 's-1', seq: 10, ts: Date.now(), data: { t: 1 } });
    const seconds = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex');
    const signature = signXRayIotRequest(SECRET, { deviceId: 's-1', timestamp: seconds, nonce }, single);
    const answer2 = await send(
      { 'x-device-id': 's-1', 'x-timestamp': seconds, 'x-nonce': nonce, 'x-hmac-signature': signature },
      single,
    );
    expect(answer2.status).toBe(200);
    expect(answer2.body).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('the emitter signer and the hub verifier agree (documented canonical string)', () => {
    const input = { deviceId: 'dev-1', timestamp: '1700000000000', nonce: '00112233445566778899aabbccddeeff' };
    const key = Buffer.alloc(32, 1);
    const raw = Buffer.from('{"readings":[]}');
    expect(signXRayIotRequest(key, input, raw)).toBe(signRequestHex(key, input, raw));
    expect(expectedSignature(key, input, raw).toString('hex')).toBe(signRequestHex(key, input, raw));
  });

  it('per-reading refusals inside a good request are counted like inside a frame', async () => {
    const payload = JSON.stringify({
      readings: [
        { seq: 20, ts: Date.now(), data: { ok: 1 } },
        { seq: -1, ts: Date.now(), data: { bad: 1 } },
        { seq: 21, ts: 1, data: { old: 1 } },
      ],
    });
    const answer = await send(signedHeaders(SECRET, 's-2', payload), payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ accepted: 1, duplicates: 0, rejected: 2 });
    expect(await hub.deadLetters('schema_invalid')).not.toHaveLength(0);
    expect(await hub.deadLetters('timestamp_out_of_range')).not.toHaveLength(0);
  });

  it('refuses stale and future timestamps (401 stale_request) and dead-letters the raw body', async () => {
    for (const offset of [-301_000, 301_000]) {
      const payload = body(undefined, 100);
      const headers = signedHeaders(SECRET, 's-1', payload, Date.now() + offset);
      const answer = await send(headers, payload);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatchObject({ code: 'unauthorized', details: { reason: 'stale_request' } });
    }
    const letters = await hub.deadLetters('stale_request', 2);
    expect(letters.length).toBeGreaterThanOrEqual(2);
    expect(letters[0]).toMatchObject({ source: 'http', device: 's-1' });
    expect(Buffer.from(letters[0]?.raw ?? []).toString()).toContain('"seq":100');
    expect(await hub.readings('s-1').then((rows) => rows.filter((r) => r.seq === 100))).toHaveLength(0);
  });

  it('refuses a replayed nonce (409) even with a fresh valid signature', async () => {
    const payload = body(undefined, 200);
    const headers = signedHeaders(SECRET, 's-1', payload);
    expect((await send(headers, payload)).status).toBe(200);
    const replay = await send(headers, payload);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toMatchObject({ code: 'conflict', details: { reason: 'replayed_nonce' } });
    // Same nonce, new timestamp and a correct signature over it: still a replay.
    const timestamp = String(Date.now() + 1);
    const resigned = {
      ...headers,
      'x-timestamp': timestamp,
      'x-hmac-signature': signXRayIotRequest(
        SECRET,
        { deviceId: 's-1', timestamp, nonce: headers['x-nonce'] ?? '' },
        payload,
      ),
    };
    expect((await send(resigned, payload)).status).toBe(409);
    expect(await hub.deadLetters('replayed_nonce', 2)).toHaveLength(2);
  });

  it('refuses a forged signature, a wrong key and an unknown device (401)', async () => {
    const payload = body(undefined, 300);
    const forged = { ...signedHeaders(SECRET, 's-1', payload), 'x-hmac-signature': 'ab'.repeat(32) };
    expect((await send(forged, payload)).body.error?.details?.reason).toBe('bad_signature');
    const otherKey = signedHeaders(randomBytes(32), 's-1', payload);
    expect((await send(otherKey, payload)).body.error?.details?.reason).toBe('bad_signature');
    const unknown = await send(signedHeaders(SECRET, 'nobody', payload), payload);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error?.details?.reason).toBe('unknown_device');
    expect(await hub.deadLetters('bad_signature', 2)).toHaveLength(2);
  });

  it('refuses a reading naming another device than x-device-id (403 device_not_allowed)', async () => {
    const payload = body('s-2', 400);
    const answer = await send(signedHeaders(SECRET, 's-1', payload), payload);
    expect(answer.status).toBe(403);
    expect(answer.body.error?.details?.reason).toBe('device_not_allowed');
    expect((await hub.readings('s-2')).filter((row) => row.seq === 400)).toHaveLength(0);
  });

  it('fails closed on every missing or odd header (401 missing_auth)', async () => {
    const payload = body(undefined, 500);
    const good = signedHeaders(SECRET, 's-1', payload);
    const variants: Array<Record<string, string>> = [];
    for (const name of Object.keys(good)) {
      const without = { ...good };
      delete without[name];
      variants.push(without);
    }
    variants.push({ ...good, 'x-nonce': 'abc' });
    variants.push({ ...good, 'x-nonce': 'g'.repeat(32) });
    variants.push({ ...good, 'x-timestamp': '12.5' });
    variants.push({ ...good, 'x-timestamp': '-5' });
    variants.push({ ...good, 'x-hmac-signature': `sha256=${good['x-hmac-signature']}` });
    variants.push({ ...good, 'x-hmac-signature': (good['x-hmac-signature'] ?? '').slice(2) });
    variants.push({ ...good, 'x-device-id': 'bad device id' });
    for (const headers of variants) {
      const answer = await send(headers, payload);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.body.error?.details?.reason).toBe('missing_auth');
    }
    // The good headers were never spent: the request still goes through.
    expect((await send(good, payload)).status).toBe(200);
  });

  it('malformed JSON under a valid signature is 400 malformed_body with the raw body kept', async () => {
    const payload = '{"readings": [ {"seq": 1,';
    const answer = await send(signedHeaders(SECRET, 's-1', payload), payload);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', details: { reason: 'malformed_body' } });
    const letters = await hub.deadLetters('malformed_body');
    expect(letters.some((letter) => Buffer.from(letter.raw).toString() === payload)).toBe(true);
  });

  it('after a rotation both keys verify while neither is revoked; a revoked key is refused', async () => {
    const a = body(undefined, 0);
    expect((await send(signedHeaders(ROT_OLD, 'rot-1', a), a)).status).toBe(200);
    const b = body(undefined, 1);
    expect((await send(signedHeaders(ROT_NEW, 'rot-1', b), b)).status).toBe(200);
    expect(await hub.readings('rot-1')).toHaveLength(2);

    const c = body(undefined, 0);
    const revoked = await send(signedHeaders(REV_OLD, 'rev-1', c), c);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error?.details?.reason).toBe('revoked_key');
    expect(await hub.readings('rev-1')).toHaveLength(0);
    expect((await send(signedHeaders(REV_NEW, 'rev-1', c), c)).status).toBe(200);
  });

  it('property: any single-bit change of body, timestamp, nonce or signature is refused', async () => {
    const payload = body(undefined, 9000);
    const headers = signedHeaders(SECRET, 's-2', payload);
    expect(readSignatureHeaders(headers).ok).toBe(true);
    const parts = ['body', 'x-timestamp', 'x-nonce', 'x-hmac-signature'] as const;
    let seq = 10_000;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...parts), fc.nat(), fc.integer({ min: 0, max: 7 }), async (part, at, bit) => {
        // A fresh nonce per run so a refusal can only come from the flipped bit, never from a replay.
        seq += 1;
        const runBody = Buffer.from(body(undefined, seq));
        const runHeaders = signedHeaders(SECRET, 's-2', runBody);
        const target = part === 'body' ? Buffer.from(runBody) : Buffer.from(runHeaders[part] ?? '', 'latin1');
        const index = at % target.length;
        target[index] = (target[index] ?? 0) ^ (1 << bit);
        const flippedHeaders = part === 'body' ? runHeaders : { ...runHeaders, [part]: target.toString('latin1') };
        const flippedBody = part === 'body' ? target : runBody;
        const answer = await post(hub.base, ROUTE, flippedBody, {
          'content-type': 'application/json',
          ...flippedHeaders,
        }).catch(
          // A flip can make a header value illegal for HTTP itself (a control character): fetch refuses to send it.
          () => ({ status: -1, body: {}, headers: new Headers() }),
        );
        expect(answer.status === -1 || (answer.status >= 400 && answer.status < 500), `${part}@${index}^${bit}`).toBe(
          true,
        );
        expect(answer.status).not.toBe(200);
      }),
      { numRuns: 60 },
    );
    // Nothing flipped was stored; the unflipped original still goes through.
    expect((await hub.readings('s-2')).filter((row) => row.seq > 10_000)).toHaveLength(0);
    expect((await send(headers, payload)).status).toBe(200);
  });
});
