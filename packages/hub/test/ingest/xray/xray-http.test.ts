/**
 * XRayIOT's signer against POST /api/v1/ingest/signed over the real app, registry and PGlite store:
 * a string HMAC credential registered through the API, the §4.7 requests (sha256 and sha512, ISO and
 * integer timestamps) with XRayRawSignal bodies, the sample data expanded into x/y/speed readings with
 * a summary listed by GET /api/v1/xray/signals, and each refusal with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { handleSignedBurst } from '../../../src/ingest/xray/xray-batch.js';
import { submitPrepared } from '../../../src/ingest/xray/xray-ingest.js';
import { NonceWindow } from '../../../src/pipeline/nonce-window.js';
import type { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { KeyEntry } from '../../../src/pipeline/keyring.js';
import type { SignalSummaryRow } from '../../../src/pipeline/ports.js';
import { call, startApiHarness, type ApiHarness } from '../../support/api-harness.js';
import { amqpHeaders, httpHeaders, nonce, sampleData, signal, xraySign } from './xray-fixtures.js';

const ROUTE = '/api/v1/ingest/signed';
const SECRET = 'xray-hmac-secret-for-tests-0123456789';
const DEVICE = 'xray-dev-1';

let hub: ApiHarness;
beforeAll(async () => {
  hub = await startApiHarness('pglite');
  const registered = await call(hub.base, 'POST', '/api/v1/devices', {
    token: hub.tokens.operator,
    body: { id: DEVICE, hmacSecret: SECRET },
  });
  expect(registered.status).toBe(201);
  expect((registered.body as { key: { kind: string } }).key.kind).toBe('utf8');
  expect(JSON.stringify(registered.body)).not.toContain(SECRET);
});
afterAll(async () => {
  await hub?.stop();
});

async function post(body: string, headers: Record<string, string>) {
  const response = await fetch(`${hub.base}${ROUTE}`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function reasonOf(answer: { body: Record<string, unknown> }): unknown {
  return (answer.body['error'] as { details?: { reason?: string } } | undefined)?.details?.reason;
}

async function readings(device: string) {
  return hub.store.readings(device, 0, Date.now() + 86_400_000, 100_000);
}

describe('XRayIOT signer on the signed HTTP route', () => {
  it('expands the sample data (sha256, ISO timestamp) into x/y/speed readings and lists the summary', async () => {
    const time = Date.now() - 60_000;
    const payload = sampleData('66bb584d4ae73e488c30a072', time, 3);
    const body = JSON.stringify(signal(DEVICE, payload));
    const answer = await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body));
    expect(answer).toEqual({ status: 200, body: { accepted: 3, duplicates: 0, rejected: 0 } });
    const rows = (await readings(DEVICE)).filter((row) => row.ts >= time && row.ts < time + 10_000);
    expect(rows.map((row) => row.ts).sort()).toEqual([time + 762, time + 1762, time + 2762]);
    expect(rows.find((row) => row.ts === time + 762)?.data).toEqual({
      x: 51.339764,
      y: 12.339223833333334,
      speed: 1.2,
    });

    // Resent with a new nonce (what a retrying producer does): the same readings, stored once.
    const again = await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body));
    expect(again).toEqual({ status: 200, body: { accepted: 0, duplicates: 3, rejected: 0 } });

    const listed = await call(hub.base, 'GET', `/api/v1/xray/signals?device=${DEVICE}`, { token: hub.tokens.viewer });
    expect(listed.status).toBe(200);
    const items = (listed.body as { items: Array<Record<string, unknown>> }).items.filter(
      (item) => item['time'] === time,
    );
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      deviceId: DEVICE,
      time,
      dataLength: 3,
      dataVolume: Buffer.byteLength(payload),
      format: 'xray-sample',
      source: 'http',
    });
    expect((await call(hub.base, 'GET', '/api/v1/xray/signals')).status).toBe(401);
  });

  it('accepts sha512 with an ISO timestamp, and integer timestamps (seconds and ms); base64 payloads too', async () => {
    const time = Date.now() - 120_000;
    const b64 = Buffer.from(sampleData('k', time, 2)).toString('base64');
    const body512 = JSON.stringify(signal(DEVICE, b64));
    const headers512 = httpHeaders(SECRET, 'sha512', DEVICE, body512);
    expect(headers512['x-hmac-signature']).toHaveLength(128);
    expect(await post(body512, headers512)).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, rejected: 0 } });

    const seconds = String(Math.floor(Date.now() / 1000));
    const bodyS = JSON.stringify(signal(DEVICE, sampleData('k', time + 10_000, 1)));
    expect((await post(bodyS, httpHeaders(SECRET, 'sha256', DEVICE, bodyS, seconds))).status).toBe(200);
    const ms = String(Date.now());
    const bodyMs = JSON.stringify(signal(DEVICE, sampleData('k', time + 20_000, 1)));
    expect((await post(bodyMs, httpHeaders(SECRET, 'sha512', DEVICE, bodyMs, ms))).status).toBe(200);
  });

  it('stores a payload in no known format as one reading with its metadata', async () => {
    const capturedAt = new Date(Date.now() - 5_000).toISOString();
    const body = JSON.stringify(
      signal(DEVICE, 'aGVsbG8gd29ybGQ=', {
        capturedAt,
        schemaVersion: 'v2',
        metadata: { location: { latitude: 52.5, longitude: 13.4, altitude: 34 }, battery: 88, signalStrength: -70 },
        correlationId: '0b8a1f8e-3c5d-4a8f-9e2b-7c6d5e4f3a21',
      }),
    );
    expect(await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body))).toEqual({
      status: 200,
      body: { accepted: 1, duplicates: 0, rejected: 0 },
    });
    const row = (await readings(DEVICE)).find((candidate) => candidate.ts === Date.parse(capturedAt));
    expect(row?.data).toEqual({
      payload: 'aGVsbG8gd29ybGQ=',
      encoding: 'base64',
      schemaVersion: 'v2',
      latitude: 52.5,
      longitude: 13.4,
      altitude: 34,
      battery: 88,
      signalStrength: -70,
      correlationId: '0b8a1f8e-3c5d-4a8f-9e2b-7c6d5e4f3a21',
    });
  });

  it('refuses each failure with its reason: stale, replayed nonce, bad signature, bad algorithm, schema', async () => {
    const body = JSON.stringify(signal(DEVICE, sampleData('k', Date.now(), 1)));
    const stale = new Date(Date.now() - 301_000).toISOString();
    const staleAnswer = await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body, stale));
    expect([staleAnswer.status, reasonOf(staleAnswer)]).toEqual([401, 'stale_request']);

    const n = nonce();
    const ts = new Date().toISOString();
    expect((await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body, ts, n))).status).toBe(200);
    const replay = await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body, ts, n));
    expect([replay.status, reasonOf(replay)]).toEqual([409, 'replayed_nonce']);

    const wrongKey = await post(body, httpHeaders('another-secret-of-enough-length', 'sha256', DEVICE, body));
    expect([wrongKey.status, reasonOf(wrongKey)]).toEqual([401, 'bad_signature']);
    // Signed as sha512 but announced as sha256 (and the reverse): the length alone refuses it.
    const mixed = { ...httpHeaders(SECRET, 'sha512', DEVICE, body), 'x-algorithm': 'sha256' };
    expect(reasonOf(await post(body, mixed))).toBe('missing_auth');
    const md5 = { ...httpHeaders(SECRET, 'sha256', DEVICE, body), 'x-algorithm': 'md5' };
    expect(reasonOf(await post(body, md5))).toBe('missing_auth');
    // The body as received is what is signed: a re-serialised (reordered) body does not verify.
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(body) as object).reverse()));
    const tampered = await post(reordered, httpHeaders(SECRET, 'sha256', DEVICE, body));
    expect(reasonOf(tampered)).toBe('bad_signature');

    const cases: Array<[Record<string, unknown>, string]> = [
      [signal(DEVICE, 'x', { extra: 1 }), 'unexpected property'],
      [signal(DEVICE, ''), 'payload'],
      [signal(DEVICE, 'x', { schemaVersion: 'v3' }), 'schemaVersion'],
      [signal(DEVICE, 'x', { capturedAt: '2026-02-30T00:00:00Z' }), 'capturedAt'],
      [signal(DEVICE, 'x', { metadata: { battery: 101 } }), 'battery'],
      [signal(DEVICE, 'x', { metadata: { location: { latitude: 91, longitude: 0 } } }), 'latitude'],
      [signal(DEVICE, 'x', { metadata: { signalStrength: 1 } }), 'signalStrength'],
      [signal(DEVICE, 'x', { correlationId: 'not-a-uuid' }), 'correlationId'],
      [{ deviceId: DEVICE, capturedAt: new Date().toISOString(), payload: 'x' }, 'schemaVersion'],
    ];
    for (const [value, field] of cases) {
      const text = JSON.stringify(value);
      const answer = await post(text, httpHeaders(SECRET, 'sha256', DEVICE, text));
      expect([answer.status, reasonOf(answer)], field).toEqual([400, 'schema_invalid']);
      expect(String((answer.body['error'] as { message: string }).message)).toContain(field);
    }
    // deviceId must be the signed x-device-id.
    const other = JSON.stringify(signal('someone-else', 'x'));
    expect(reasonOf(await post(other, httpHeaders(SECRET, 'sha256', DEVICE, other)))).toBe('device_not_allowed');
    // Refusals are dead-lettered with the raw body.
    const letters = await hub.store.recentDeadLetters(1000);
    expect(letters.some((letter) => letter.reason === 'stale_request' && letter.device === DEVICE)).toBe(true);
    expect(letters.some((letter) => letter.reason === 'schema_invalid' && letter.raw.byteLength > 0)).toBe(true);
  });

  it('keeps sample data whose time PostgreSQL cannot store as one opaque reading, not a refused summary', async () => {
    const payload = sampleData('far', -1e15, 1); // year −29 719: a JS date, not a PostgreSQL timestamp
    const capturedAt = new Date(Date.now() - 7_000).toISOString();
    const body = JSON.stringify(signal(DEVICE, payload, { capturedAt }));
    const answer = await post(body, httpHeaders(SECRET, 'sha256', DEVICE, body));
    expect(answer).toEqual({ status: 200, body: { accepted: 1, duplicates: 0, rejected: 0 } });
    const row = (await readings(DEVICE)).find((candidate) => candidate.ts === Date.parse(capturedAt));
    expect(row?.data).toMatchObject({ payload, encoding: 'json' });
    const listed = await call(hub.base, 'GET', `/api/v1/xray/signals?device=${DEVICE}`, { token: hub.tokens.viewer });
    const items = (listed.body as { items: Array<Record<string, unknown>> }).items;
    expect(items.find((item) => item['time'] === Date.parse(capturedAt))).toMatchObject({ format: 'opaque' });
  });

  it('refuses and dead-letters a signal whose summary the store refuses; its readings and other summaries commit', async () => {
    // A summary the checks would not let through (its time is beyond PostgreSQL's range) stands for any
    // the store refuses for its data: the split isolates it, and nothing is dropped silently.
    const entry = hub.registry.keys.keysForDevice(DEVICE).find((key) => !key.revoked) as KeyEntry;
    const base = Date.now() - 30_000;
    const summaryOf = (time: number, text: string): SignalSummaryRow & { payloadSha256: Buffer } => ({
      deviceId: DEVICE,
      time,
      capturedAt: base,
      receivedAt: base,
      dataLength: 1,
      dataVolume: text.length,
      format: 'xray-sample',
      source: 'amqp',
      correlationId: null,
      payloadSha256: createHash('sha256').update(text).digest(),
    });
    const candidate = (seq: number) => ({ device: DEVICE, seq, ts: base + seq, data: { x: seq } });
    const { answer, refusedSignals } = await hub.registry.pipeline.handleAuthenticatedParts(
      [
        { candidates: [candidate(901)], entry, signal: summaryOf(base + 901, 'good-901') },
        { candidates: [candidate(902)], entry, signal: summaryOf(-1e15, 'bad-902') },
      ],
      'amqp',
      'test',
    );
    expect(answer).toMatchObject({ kind: 'ack', accepted: 2 });
    expect(refusedSignals).toEqual([
      {
        index: 1,
        reason: 'store_refused',
        detail: expect.stringContaining('signal summary') as string,
        deadLettered: false,
      },
    ]);
    const stored = (await readings(DEVICE)).filter((row) => row.ts === base + 901 || row.ts === base + 902);
    expect(stored).toHaveLength(2);
    const listed = await call(hub.base, 'GET', `/api/v1/xray/signals?device=${DEVICE}`, { token: hub.tokens.viewer });
    const times = (listed.body as { items: Array<{ time: number }> }).items.map((item) => item.time);
    expect(times).toContain(base + 901);

    // One signal on its own (the HTTP route's and a large message's path): refused store_refused,
    // counted and dead-lettered with the signal's bytes.
    const raw = Buffer.from('the signal as received');
    const withoutSummary = await submitPrepared(
      { pipeline: hub.registry.pipeline, storeSummaries: false, maxReadingsPerSubmission: 1000, now: Date.now },
      { readings: [candidate(903)], summary: { ...summaryOf(-1e15, 'bad-903'), format: 'xray-sample' } },
      entry,
      'http',
      'test',
      raw,
    );
    expect(withoutSummary).toEqual({
      kind: 'stored',
      accepted: 1,
      duplicates: 0,
      rejected: 0,
      summary: expect.anything(),
    });
    const alone = await submitPrepared(
      { pipeline: hub.registry.pipeline, storeSummaries: true, maxReadingsPerSubmission: 1000, now: Date.now },
      { readings: [candidate(904)], summary: { ...summaryOf(-1e15, 'bad-904'), format: 'xray-sample' } },
      entry,
      'http',
      'test',
      raw,
    );
    expect(alone).toMatchObject({ kind: 'refused', reason: 'store_refused' });
    const deadline = Date.now() + 10_000;
    let letter: { raw: Uint8Array; device: string | null } | undefined;
    while (letter === undefined && Date.now() < deadline) {
      letter = (await hub.store.recentDeadLetters(1000)).find(
        (row) => row.reason === 'store_refused' && row.device === DEVICE,
      );
      if (letter === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Buffer.from(letter?.raw ?? []).toString()).toBe('the signal as received');
  });

  it('stores no summary for a signal a reading of which was refused, and refuses the signal with its reason', async () => {
    const listedTimes = async () => {
      const listed = await call(hub.base, 'GET', `/api/v1/xray/signals?device=${DEVICE}`, { token: hub.tokens.viewer });
      return (listed.body as { items: Array<{ time: number }> }).items.map((item) => item.time);
    };
    // Every point out of the readings' time window (time 0), then one good point beside one bad one.
    const allBad = JSON.stringify(signal(DEVICE, sampleData('zero', 0, 2)));
    const answer = await post(allBad, httpHeaders(SECRET, 'sha256', DEVICE, allBad));
    expect([answer.status, reasonOf(answer)]).toEqual([400, 'timestamp_out_of_range']);
    const time = Date.now() - 50_000;
    const mixed = JSON.stringify(
      signal(
        DEVICE,
        JSON.stringify({
          mixed: {
            data: [
              [0, [1, 2, 3]],
              [-8.64e9, [4, 5, 6]], // 100 days earlier
            ],
            time,
          },
        }),
      ),
    );
    const mixedAnswer = await post(mixed, httpHeaders(SECRET, 'sha256', DEVICE, mixed));
    expect(reasonOf(mixedAnswer)).toBe('timestamp_out_of_range');
    // The good point is stored (a resend after a fix finds it a duplicate); neither summary is.
    expect((await readings(DEVICE)).some((row) => row.ts === time)).toBe(true);
    const times = await listedTimes();
    expect(times).not.toContain(0);
    expect(times).not.toContain(time);
  });

  it('in an AMQP burst, refuses only the message whose summary the store refused, with its own bytes', async () => {
    // The real pipeline and store, with one summary's time moved out of PostgreSQL's range on its way in.
    const real = hub.registry.pipeline;
    const poisoned = Object.create(real) as Pipeline;
    poisoned.handleAuthenticatedParts = (parts, source, peer) =>
      real.handleAuthenticatedParts(
        parts.map((part, index) =>
          index === 1 && part.signal !== undefined ? { ...part, signal: { ...part.signal, time: -1e15 } } : part,
        ),
        source,
        peer,
      );
    const time = Date.now() - 40_000;
    // The fourth: its point is out of the readings' time window, so its summary is not stored either.
    const bodies = [0, 1, 2, 3].map((i) =>
      JSON.stringify(signal(DEVICE, sampleData(`burst-${i}`, i === 3 ? 0 : time + i * 10_000, 1))),
    );
    const inputs = bodies.map((body) => {
      const value = JSON.parse(body) as { deviceId: string; capturedAt: string };
      return { headers: amqpHeaders(SECRET, 'sha256', value, body), body: Buffer.from(body), redelivered: false };
    });
    const answers = await handleSignedBurst(
      {
        pipeline: poisoned,
        storeSummaries: true,
        maxReadingsPerSubmission: 1000,
        now: Date.now,
        keys: hub.registry.keys,
        nonces: new NonceWindow(300_000, 1000),
        toleranceMs: 300_000,
        allowDefaultSecret: false,
      },
      inputs,
      'x-timestamp-auth',
      'amqp',
      'test-burst',
    );
    expect(answers.map((answer) => answer.kind)).toEqual(['stored', 'refused', 'stored', 'refused']);
    expect(answers[1]).toMatchObject({ reason: 'store_refused' });
    expect(answers[3]).toMatchObject({ reason: 'timestamp_out_of_range' });
    const deadline = Date.now() + 10_000;
    let letters: Awaited<ReturnType<typeof hub.store.recentDeadLetters>> = [];
    while (letters.length === 0 && Date.now() < deadline) {
      letters = (await hub.store.recentDeadLetters(1000)).filter(
        (row) => row.reason === 'store_refused' && row.peer === 'test-burst',
      );
      if (letters.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(letters.map((row) => Buffer.from(row.raw).toString())).toEqual([bodies[1]]);
  });

  it('on AMQP, counts forgeries against a dead-letter budget peer of their own, apart from signed refusals', async () => {
    const forged = JSON.stringify(signal(DEVICE, 'x'));
    const unsigned = JSON.parse(forged) as { deviceId: string; capturedAt: string };
    const notASignal = JSON.stringify({ hello: 'signed, but not an XRayRawSignal' });
    const inputs = [
      { headers: amqpHeaders('not-the-secret-0123456789', 'sha256', unsigned, forged), body: forged },
      { headers: amqpHeaders(SECRET, 'sha256', unsigned, notASignal), body: notASignal },
    ].map((input) => ({ ...input, body: Buffer.from(input.body), redelivered: false }));
    const answers = await handleSignedBurst(
      {
        pipeline: hub.registry.pipeline,
        storeSummaries: true,
        maxReadingsPerSubmission: 1000,
        now: Date.now,
        keys: hub.registry.keys,
        nonces: new NonceWindow(300_000, 1000),
        toleranceMs: 300_000,
        allowDefaultSecret: false,
      },
      inputs,
      'x-timestamp-auth',
      'amqp',
      'amqp:budget-test',
    );
    expect(answers.map((answer) => (answer.kind === 'refused' ? answer.reason : answer.kind))).toEqual([
      'bad_signature',
      'schema_invalid',
    ]);
    const deadline = Date.now() + 10_000;
    let peers: string[] = [];
    while (peers.length < 2 && Date.now() < deadline) {
      peers = (await hub.store.recentDeadLetters(1000))
        .filter((row) => row.peer.includes('budget-test'))
        .map((row) => `${row.reason} ${row.peer}`);
      if (peers.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(peers.sort()).toEqual(['bad_signature unverified-amqp:budget-test', 'schema_invalid amqp:budget-test']);
  });

  it('keeps the route own readings format working with an ISO timestamp and sha512', async () => {
    const body = JSON.stringify({ readings: [{ seq: 7, ts: Date.now(), data: { t: 1 } }] });
    const answer = await post(body, httpHeaders(SECRET, 'sha512', DEVICE, body));
    expect(answer).toEqual({ status: 200, body: { accepted: 1, duplicates: 0, rejected: 0 } });
  });

  it('refuses XRayIOT default secret at registration (outside demo) and short string secrets', async () => {
    for (const hmacSecret of ['default-secret-key-change-in-production', 'short']) {
      const answer = await call(hub.base, 'POST', '/api/v1/devices', {
        token: hub.tokens.operator,
        body: { id: `dflt-${hmacSecret.length}`, hmacSecret },
      });
      expect(answer.status).toBe(400);
    }
    expect(xraySign('k', 'sha256', 'd', 'b', 't', 'n')).toMatch(/^[0-9a-f]{64}$/);
  });
});
