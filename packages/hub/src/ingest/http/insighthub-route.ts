/**
 * POST /ingest (root path, for the old IoT InsightHub clients; also /api/v1/ingest/readings): a bearer
 * that is either a device token (`sst_<keyId>_<mac>`, see @sealstream/protocol device-token) or the
 * InsightHub clients' own HS256 JWT (ingest-jwt.ts; the devices it may name are those the registry
 * knows), and `{device_id, value, time}` or an array of them; 202 once committed. Each item becomes a
 * reading `{ device: device_id, seq, ts: time, data: { value } }`; an integer `time` below 10^11 is Unix
 * seconds (the clients' contract), above it milliseconds. Without a `seq` the hub derives one from the
 * content, so a client retrying the same reading is stored once (the rule is in insighthubSeq). A
 * request whose readings were all refused is answered with the refusal, never 2xx: those clients look
 * only at the status.
 */
import { isoTimeToMs } from './iso-time.js';
import { createHash } from 'node:crypto';
import { deviceTokenMatches, parseDeviceToken } from '@sealstream/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefusedCandidate } from '../../pipeline/frame-opener.js';
import type { KeyEntry } from '../../pipeline/keyring.js';
import { withErrorResponses } from '../../http/api-schemas.js';
import type { IngestContext } from './ingest-context.js';
import { looksLikeJwt } from './ingest-jwt.js';
import { IngestAnswer, parseJson, sendReadingsAnswer } from './ingest-json.js';
import { sendRateLimited, setLimitHeaders } from './ingest-rate-limiter.js';
import { acceptAll, bodyBytes, ingestGate, peerOf, refuseRequest, sendRefusal } from './ingest-replies.js';

export const INSIGHTHUB_ROUTES = ['/ingest', '/api/v1/ingest/readings'] as const;

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

const InsightHubReading = Type.Object({
  device_id: Type.String({ description: 'the device id; the token key must be allowed to speak for it' }),
  value: Type.Number({ description: 'the reading; stored as data.value and charted as the metric "value"' }),
  time: Type.Union([Type.String({ format: 'date-time' }), Type.Integer({ minimum: 0 })], {
    description:
      'ISO 8601 date-time with a zone, or an integer: below 10^11 Unix seconds (the InsightHub contract), otherwise ms',
  }),
  seq: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'optional sequence number; without it seq = first 48 bits of SHA-256(device_id + "\\0" + time + "\\0" + JSON(value))',
    }),
  ),
});

const InsightHubBody = Type.Union([InsightHubReading, Type.Array(InsightHubReading, { minItems: 1 })]);

export function registerInsightHubRoutes(app: FastifyInstance, context: IngestContext): void {
  for (const url of INSIGHTHUB_ROUTES) {
    app.post(
      url,
      {
        bodyLimit: context.bodyLimitBytes,
        config: { rateLimit: false },
        onRequest: ingestGate(context.pipeline, 'application/json'),
        validatorCompiler: acceptAll,
        schema: {
          tags: ['ingest'],
          summary:
            'InsightHub-style readings {device_id, value, time} with a device token or HS256 JWT; 202 once stored',
          description:
            'Authorization: Bearer sst_<keyId>_<base64url HMAC-SHA256(secret, "sealstream device token v1")>, ' +
            'or Bearer <HS256 JWT signed with --ingest-jwt-secret>. 401 missing_auth / bad_token / revoked_key, ' +
            "403 device_not_allowed, 400 malformed_body or (every reading refused) the readings' reason, 429 per " +
            'device, 503 with Retry-After when busy (reason in details.reason). See docs/api-ingest.md.',
          body: InsightHubBody,
          response: withErrorResponses({ 202: IngestAnswer }),
        },
      },
      (request, reply) => handleInsightHub(context, request, reply),
    );
  }
}

async function handleInsightHub(
  context: IngestContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const { pipeline } = context;
  const auth = authenticate(context, request.headers.authorization);
  if (auth.kind === 'refused') return refuseRequest(pipeline, request, reply, { ...auth, device: null });

  const items = itemsOf(parseJson(bodyBytes(request)), context.maxReadingsPerRequest);
  if (!items.ok) return refuseRequest(pipeline, request, reply, { ...items, device: null });
  const devices = new Set(items.value.map((item) => item['device_id'] as string));
  const allowed = auth.kind === 'ok' ? checkKeyDevices(auth.entry, devices) : registryEntry(context, devices);
  if (!allowed.ok) {
    return refuseRequest(pipeline, request, reply, {
      reason: 'device_not_allowed',
      detail: allowed.detail,
      device: null,
    });
  }
  const entry = allowed.entry;

  const limiter = context.limiter;
  if (limiter !== null) {
    for (const device of devices) {
      const state = await limiter.take(`device:${device}`);
      if (!state.allowed) return sendRateLimited(reply, 'ingest-device', state, limiter.windowMs);
      setLimitHeaders(reply, state);
    }
  }

  const answer = await pipeline.handleAuthenticatedReadings(
    items.value.map(toCandidate),
    entry,
    'http',
    peerOf(request),
  );
  // Nothing stored and something refused: the client (which reads only the status) must not see 2xx.
  // The readings were counted and dead-lettered one by one already; this only answers.
  if (answer.kind === 'ack' && answer.accepted + answer.duplicates === 0 && answer.firstRefusal !== undefined) {
    const { reason, detail } = answer.firstRefusal;
    return sendRefusal(reply, reason, `every reading was refused (${answer.rejected}); the first: ${detail}`);
  }
  return sendReadingsAnswer(reply, answer, 202);
}

type Auth =
  | { readonly kind: 'ok'; readonly entry: KeyEntry }
  /** A valid ingest JWT: it names no key, so each device must be known to the registry. */
  | { readonly kind: 'jwt' }
  | {
      readonly kind: 'refused';
      readonly reason: 'missing_auth' | 'bad_token' | 'revoked_key';
      readonly detail: string;
    };

function authenticate(context: IngestContext, header: string | undefined): Auth {
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (match?.[1] === undefined) {
    return { kind: 'refused', reason: 'missing_auth', detail: 'Authorization: Bearer <device token> is required' };
  }
  if (looksLikeJwt(match[1])) {
    if (context.jwt === null) {
      return { kind: 'refused', reason: 'bad_token', detail: 'JWT bearers are not enabled on this hub' };
    }
    const verdict = context.jwt.verify(match[1]);
    return verdict.ok ? { kind: 'jwt' } : { kind: 'refused', reason: 'bad_token', detail: verdict.detail };
  }
  const token = parseDeviceToken(match[1]);
  const entry = token === undefined ? undefined : context.keys.resolve(token.keyId);
  // One answer for "not a token", "unknown key" and "wrong MAC": a caller learns nothing about key ids.
  if (token === undefined || entry === undefined || !deviceTokenMatches(token.mac, entry.secret)) {
    return { kind: 'refused', reason: 'bad_token', detail: 'the device token is not valid' };
  }
  if (entry.revoked) return { kind: 'refused', reason: 'revoked_key', detail: 'the token belongs to a revoked key' };
  return { kind: 'ok', entry };
}

type DevicesCheck = { readonly ok: true; readonly entry: KeyEntry } | { readonly ok: false; readonly detail: string };

function checkKeyDevices(entry: KeyEntry, devices: ReadonlySet<string>): DevicesCheck {
  for (const device of devices) {
    if (entry.devices !== 'any' && !entry.devices.has(device)) {
      return { ok: false, detail: `key ${entry.keyId} may not speak for device ${device}` };
    }
  }
  return { ok: true, entry };
}

/**
 * A JWT names no key: each device of the request must have a live key of its own in the registry (or
 * in the configured keys' device lists). Shared keys ('any', such as the demo key) count only when the
 * hub says so (demo mode): otherwise configuring a gateway key would open every device id to anyone
 * holding the ingest secret. The readings are then checked as if one key spoke for exactly these devices.
 */
function registryEntry(context: IngestContext, devices: ReadonlySet<string>): DevicesCheck {
  let first: KeyEntry | undefined;
  for (const device of devices) {
    const live = context.keys
      .keysForDevice(device)
      .find((entry) => !entry.revoked && (entry.devices !== 'any' || context.jwt?.allowSharedKeys === true));
    if (live === undefined || context.keys.isDeviceRevoked(device)) {
      return { ok: false, detail: `device ${device} is not registered for ingest on this hub` };
    }
    first ??= live;
  }
  if (first === undefined) return { ok: false, detail: 'no device named' };
  return { ok: true, entry: { ...first, keyId: 'ingest-jwt', devices: new Set(devices) } };
}

type ItemsCheck =
  | { readonly ok: true; readonly value: ReadonlyArray<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: 'malformed_body' | 'too_many_readings'; readonly detail: string };

function itemsOf(parsed: ReturnType<typeof parseJson>, max: number): ItemsCheck {
  if (!parsed.ok) return { ok: false, reason: 'malformed_body', detail: 'the body is not JSON' };
  const list = Array.isArray(parsed.value) ? (parsed.value as unknown[]) : [parsed.value];
  if (list.length === 0) return { ok: false, reason: 'malformed_body', detail: 'the array holds no readings' };
  if (list.length > max) {
    return { ok: false, reason: 'too_many_readings', detail: `more than ${max} readings in one request` };
  }
  for (const item of list) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return { ok: false, reason: 'malformed_body', detail: 'every reading must be an object' };
    }
    if (typeof (item as Record<string, unknown>)['device_id'] !== 'string') {
      return { ok: false, reason: 'malformed_body', detail: 'every reading needs a string device_id' };
    }
  }
  return { ok: true, value: list as Array<Record<string, unknown>> };
}

/**
 * An item as a pipeline reading candidate. `value` and `time` are checked here, where the client's names
 * for them are known: the reading schema would see `data` and `ts` and name fields the client never sent.
 * Anything else wrong in it (seq, extra fields) is left for the reading schema to refuse, one reading at a
 * time, as inside a frame.
 */
function toCandidate(item: Record<string, unknown>): Record<string, unknown> | RefusedCandidate {
  const { device_id: device, value, time, seq, ...extra } = item;
  // The clients' contract is a number; JSON has no NaN or Infinity, so any number parsed is finite.
  if (typeof value !== 'number') {
    const detail =
      value === undefined
        ? 'value is missing: every reading needs a numeric value'
        : `value must be a number (got ${jsonTypeOf(value)})`;
    return new RefusedCandidate('schema_invalid', detail, device as string, item);
  }
  // Likewise `time`: the schema would name `ts`. Its range is the schema's (timestamp_out_of_range).
  const ts = timeToMs(time);
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    const detail =
      time === undefined
        ? 'time is missing: every reading needs a time'
        : 'time must be an integer (Unix seconds below 10^11, else ms) or an ISO 8601 date-time with a zone';
    return new RefusedCandidate('schema_invalid', detail, device as string, item);
  }
  const candidate: Record<string, unknown> = {
    device,
    seq: seq === undefined ? derivedSeq(device as string, time, value) : seq,
    ts,
    data: { value },
  };
  // Unknown fields are refused by the schema under their own name (`unexpected field "x"`) rather than
  // silently dropped; one that is also a reading's own key (device, ts, data) must not replace it, and
  // defineProperty keeps `__proto__` an own field (an assignment would set the prototype instead).
  for (const name of Object.keys(extra)) {
    const key = Object.hasOwn(candidate, name) ? `${name} (extra)` : name;
    Object.defineProperty(candidate, key, { value: true, enumerable: true, writable: true, configurable: true });
  }
  return candidate;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Integer times below this are Unix seconds (10^11 s is the year 5138; 10^11 ms is 1973), as on the signed route. */
export const SECONDS_BELOW = 100_000_000_000;

/**
 * An ISO time string becomes ms; an integer below 10^11 is Unix seconds (what InsightHub's clients send)
 * and becomes ms; anything else is left as sent, for the reading schema to refuse as ts.
 */
export function timeToMs(time: unknown): unknown {
  if (typeof time === 'number')
    return Number.isSafeInteger(time) && time >= 0 && time < SECONDS_BELOW ? time * 1000 : time;
  if (typeof time !== 'string') return time;
  return isoTimeToMs(time) ?? time;
}

/**
 * insighthubSeq, or null (refused by the reading schema) when time or value nests too deeply for
 * JSON.stringify: such an item is refused anyway (time must be a number or a date, data at most 16
 * levels deep), and throwing would turn the whole request into a 500.
 */
function derivedSeq(device: string, time: unknown, value: unknown): number | null {
  try {
    return insighthubSeq(device, time, value);
  } catch {
    return null;
  }
}

/**
 * seq for an item without one: the first 48 bits (6 bytes, big-endian) of
 * SHA-256(device_id + "\0" + time + "\0" + JSON(value)), where time is the string as sent or the number
 * in its JSON form, and JSON(value) is the value re-serialised compactly in the key order it arrived in.
 * The same reading sent again gets the same seq, so a retry is a harmless duplicate.
 */
export function insighthubSeq(device: string, time: unknown, value: unknown): number {
  const timeText = typeof time === 'string' ? time : JSON.stringify(time);
  const digest = createHash('sha256')
    .update(`${device}\u0000${timeText}\u0000${JSON.stringify(value)}`, 'utf8')
    .digest();
  return digest.readUIntBE(0, 6);
}
