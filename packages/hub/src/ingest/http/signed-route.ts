/**
 * POST /api/v1/ingest/signed: readings as JSON, authenticated the XRayIOT way by an HMAC signature in
 * headers (see hmac-signature.ts for the exact bytes). Checks run cheapest first and fail closed:
 * headers, timestamp tolerance, the device's keys (newest first; a revoked key never verifies), the
 * nonce (a replay is refused here, before the rate limit, so replaying a captured request never spends
 * the device's budget), the per-device rate limit, then the nonce is recorded (only once the signature
 * verified, so forgers cannot fill the window) and the body read. Verified readings take the same
 * per-reading checks, outcomes and dead letters as the contents of a frame.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyEntry } from '../../pipeline/keyring.js';
import type { NonceVerdict } from '../../pipeline/nonce-window.js';
import { forgetShared, sharedSightings } from '../../pipeline/shared-replay-check.js';
import { withErrorResponses } from '../../http/api-schemas.js';
import { readSignatureHeaders, verifySignature } from '../xray/xray-signature.js';
import { MAX_PAYLOAD_CHARS, SIGNAL_BODY_LIMIT_BYTES, looksLikeSignal } from '../xray/xray-signal.js';
import { submitSignal } from '../xray/xray-ingest.js';
import type { IngestContext } from './ingest-context.js';
import { IngestAnswer, parseJson, sendReadingsAnswer } from './ingest-json.js';
import { sendRateLimited, setLimitHeaders } from './ingest-rate-limiter.js';
import { acceptAll, bodyBytes, ingestGate, peerOf, refuseRequest, sendHubBusy, sendRefusal } from './ingest-replies.js';

export const SIGNED_ROUTE = '/api/v1/ingest/signed';

const SignedReading = Type.Object({
  device: Type.Optional(Type.String({ description: 'if present, must equal x-device-id' })),
  seq: Type.Integer({ minimum: 0, description: 'per-device sequence number; (device, seq) identifies a reading' }),
  ts: Type.Integer({ minimum: 0, description: 'device time, ms since the epoch' }),
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON object; numeric fields become metrics' }),
});

/** XRayIOT's message body (design §4.6); its payload becomes readings, see docs/api-ingest.md. */
const XRayRawSignal = Type.Object(
  {
    deviceId: Type.String({ pattern: '^[a-zA-Z0-9_-]+$', minLength: 1, maxLength: 100 }),
    capturedAt: Type.String({ format: 'date-time' }),
    payload: Type.String({ minLength: 1, maxLength: MAX_PAYLOAD_CHARS, description: 'JSON text or base64' }),
    schemaVersion: Type.Union([Type.Literal('v1'), Type.Literal('v2')]),
    metadata: Type.Optional(
      Type.Object({
        location: Type.Optional(
          Type.Object({
            latitude: Type.Number({ minimum: -90, maximum: 90 }),
            longitude: Type.Number({ minimum: -180, maximum: 180 }),
            altitude: Type.Optional(Type.Number()),
          }),
        ),
        battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
        signalStrength: Type.Optional(Type.Number({ minimum: -120, maximum: 0 })),
      }),
    ),
    correlationId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false, title: 'XRayRawSignal' },
);

const SignedBody = Type.Union([
  Type.Object({ readings: Type.Array(SignedReading, { minItems: 1 }) }),
  SignedReading,
  XRayRawSignal,
]);

/** The route reads at least this much whatever the general ingest body limit is. */
export { SIGNAL_BODY_LIMIT_BYTES };

const SignedHeaders = Type.Object({
  'x-device-id': Type.String({ description: 'the device id' }),
  'x-timestamp': Type.String({
    description:
      'signing time: ISO 8601 with a zone (XRayIOT), or integer seconds or milliseconds since the epoch (below 1e11 read as seconds)',
  }),
  'x-algorithm': Type.Optional(
    Type.Union([Type.Literal('sha256'), Type.Literal('sha512')], { description: 'HMAC hash; absent = sha256' }),
  ),
  'x-nonce': Type.String({ description: '32 hex characters, fresh per request' }),
  'x-hmac-signature': Type.String({
    description:
      'hex HMAC-<alg>(K, "algorithm=<alg>&deviceId=<id>&nonce=<n>&payload=<hex HMAC-<alg>(K, body)>&timestamp=<x-timestamp>")',
  }),
});

export function registerSignedRoute(app: FastifyInstance, context: IngestContext): void {
  app.post(
    SIGNED_ROUTE,
    {
      bodyLimit: context.signedBodyLimitBytes,
      config: { rateLimit: false },
      onRequest: ingestGate(context.pipeline, 'application/json'),
      validatorCompiler: acceptAll,
      schema: {
        tags: ['ingest'],
        summary: 'Readings or an XRayRawSignal as JSON, HMAC-signed in headers (XRayIOT signer)',
        description:
          '200 after commit with counts. 401 missing_auth / stale_request / unknown_device / bad_signature / ' +
          'revoked_key, 409 replayed_nonce, 403 device_not_allowed, 400 malformed_body / too_many_readings, ' +
          '429 per device (request rate: ingest-device; live nonces: ingest-device-nonces), 503 with ' +
          'Retry-After when busy (reason in details.reason). See docs/api-ingest.md.',
        headers: SignedHeaders,
        body: SignedBody,
        response: withErrorResponses({ 200: IngestAnswer }),
      },
    },
    (request, reply) => handleSigned(context, request, reply),
  );
}

async function handleSigned(context: IngestContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { pipeline } = context;
  const parsedHeaders = readSignatureHeaders(request.headers);
  if (!parsedHeaders.ok) {
    return refuseRequest(pipeline, request, reply, {
      reason: 'missing_auth',
      detail: parsedHeaders.detail,
      device: null,
    });
  }
  const headers = parsedHeaders.value;
  const device = headers.deviceId;
  const now = context.now();
  if (Math.abs(now - headers.timestampMs) > context.signatureToleranceMs) {
    return refuseRequest(pipeline, request, reply, {
      reason: 'stale_request',
      detail: `x-timestamp differs from hub time by more than ${context.signatureToleranceMs} ms`,
      device,
    });
  }
  const body = bodyBytes(request);
  const verdict = verifySignature(context.keys, headers, body, context.allowDefaultSecret);
  if (verdict.kind !== 'ok') {
    return refuseRequest(pipeline, request, reply, { ...verdict, device });
  }
  const entry = verdict.entry;

  // Nonce before rate limit: a replay (anyone who captured the request can send it) is refused without
  // charging the device. The record below checks again, so a copy that raced past this verdict is still refused.
  const nonce = headers.nonce.toLowerCase();
  const seen = context.nonces.verdict(device, nonce, now);
  if (seen !== 'fresh') return refuseNonce(context, request, reply, device, seen, now);

  const limiter = context.limiter;
  if (limiter !== null) {
    // A request refused here leaves its nonce unrecorded: it did nothing, and a later copy is charged once.
    const state = await limiter.take(`device:${device}`);
    if (!state.allowed) return sendRateLimited(reply, 'ingest-device', state, limiter.windowMs);
    setLimitHeaders(reply, state);
  }

  const recorded = context.nonces.check(device, nonce, headers.timestampMs, now);
  if (recorded !== 'fresh') return refuseNonce(context, request, reply, device, recorded, now);
  if (context.sharedNonces !== null) {
    const [fresh] = (await sharedSightings(context.sharedNonces, [`${device}:${nonce}`])) ?? [];
    if (fresh === false) return refuseNonce(context, request, reply, device, 'replayed', now);
    if (fresh === undefined) {
      // Not checked, so not spent: the client's retry of this very request must not meet its own nonce.
      context.nonces.forget(device, nonce);
      return refuseRequest(pipeline, request, reply, {
        reason: 'state_unavailable',
        detail: 'the shared nonce window could not be reached',
        device,
      });
    }
  }

  const parsed = parseJson(body);
  if (parsed.ok && looksLikeSignal(parsed.value)) {
    return handleSignal(context, request, reply, parsed.value, device, entry, nonce);
  }
  const readings = readingsOf(parsed, context.maxReadingsPerRequest);
  if (!readings.ok) return refuseRequest(pipeline, request, reply, { ...readings, device });
  const candidates: unknown[] = [];
  for (const reading of readings.value) {
    if ('device' in reading && reading['device'] !== device) {
      // Whole request: the signature speaks for x-device-id only. No device on the dead letter, so a
      // re-drive does not mistake the request body for one reading.
      return refuseRequest(pipeline, request, reply, {
        reason: 'device_not_allowed',
        detail: `a reading names a device other than x-device-id ${device}`,
        device: null,
      });
    }
    // Extra fields stay, so the reading schema refuses them exactly as inside a frame.
    candidates.push({ ...reading, device });
  }
  const answer = await pipeline.handleAuthenticatedReadings(candidates, entry, 'http', peerOf(request));
  return sendReadingsAnswer(reply, answer, 200);
}

/** The answer to a signed request whose nonce cannot be taken. */
function refuseNonce(
  context: IngestContext,
  request: FastifyRequest,
  reply: FastifyReply,
  device: string,
  verdict: Exclude<NonceVerdict, 'fresh'>,
  now: number,
): FastifyReply {
  const { pipeline, nonces } = context;
  switch (verdict) {
    case 'replayed':
      return refuseRequest(pipeline, request, reply, {
        reason: 'replayed_nonce',
        detail: 'this nonce was already used by the device; sign each request with a fresh nonce',
        device,
      });
    case 'owner_full': {
      // This device alone sends more than its share of the window: told to slow down like any other
      // per-device limit (not dead-lettered), other devices go on. The wait is until its oldest nonce expires.
      const resetMs = nonces.ownerFreesAt(device, now) - now;
      const state = { allowed: false, max: nonces.maxPerOwner, remaining: 0, resetMs };
      return sendRateLimited(reply, 'ingest-device-nonces', state, context.signatureToleranceMs);
    }
    case 'full':
      return refuseRequest(pipeline, request, reply, {
        reason: 'overloaded',
        detail: 'the nonce window is full',
        device,
      });
  }
}

/** An XRayRawSignal body: its readings and summary in one commit; 200 with counts after commit. */
async function handleSignal(
  context: IngestContext,
  request: FastifyRequest,
  reply: FastifyReply,
  value: unknown,
  device: string,
  entry: KeyEntry,
  nonce: string,
): Promise<FastifyReply> {
  const answer = await submitSignal(
    {
      pipeline: context.pipeline,
      storeSummaries: context.storeSignalSummaries,
      maxReadingsPerSubmission: context.maxReadingsPerRequest,
      now: context.now,
    },
    value,
    device,
    entry,
    'http',
    peerOf(request),
    bodyBytes(request),
  );
  switch (answer.kind) {
    case 'stored':
      return reply
        .code(200)
        .send({ accepted: answer.accepted, duplicates: answer.duplicates, rejected: answer.rejected });
    case 'refused':
      return sendRefusal(reply, answer.reason, answer.detail);
    case 'busy':
      // Nothing acknowledged: the client's retry of this very request must not meet its own nonce.
      context.nonces.forget(device, nonce);
      if (context.sharedNonces !== null) forgetShared(context.sharedNonces, [`${device}:${nonce}`]);
      return sendHubBusy(reply, answer.reason, answer.detail);
    case 'seen':
      return sendRefusal(reply, 'replayed_nonce', 'this nonce was already used by the device');
  }
}

type ReadingsCheck =
  | { readonly ok: true; readonly value: ReadonlyArray<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: 'malformed_body' | 'too_many_readings'; readonly detail: string };

/** The envelope: `{ readings: [...] }` or one reading object. Each reading's own fields are checked later. */
function readingsOf(parsed: ReturnType<typeof parseJson>, max: number): ReadingsCheck {
  if (!parsed.ok) return { ok: false, reason: 'malformed_body', detail: 'the body is not JSON' };
  const value = parsed.value;
  if (!isObject(value)) return { ok: false, reason: 'malformed_body', detail: 'the body is not a JSON object' };
  const list: unknown = 'readings' in value ? value['readings'] : [value];
  if (!Array.isArray(list) || list.length === 0) {
    return { ok: false, reason: 'malformed_body', detail: 'readings must be a non-empty array' };
  }
  if (list.length > max) {
    return { ok: false, reason: 'too_many_readings', detail: `more than ${max} readings in one request` };
  }
  if (!list.every(isObject)) return { ok: false, reason: 'malformed_body', detail: 'every reading must be an object' };
  return { ok: true, value: list };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
