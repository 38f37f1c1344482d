/**
 * XRayIOT's message body, the `XRayRawSignal`, checked exactly as its JSON schema says (no other
 * top-level properties), and what it becomes here: readings plus a per-signal summary. Pure of I/O.
 *
 * The payload is JSON text or base64 of it. When it holds the seed's sample x-ray data,
 * `{ "<id>": { "data": [[<offset ms>, [<x>, <y>, <speed>]], ...], "time": <epoch ms> } }`, every data
 * point becomes one reading of the signal's device at time + offset (rounded to the ms) with metrics
 * x, y and speed. Any other payload becomes one reading at capturedAt whose data keeps the payload text
 * and the signal's metadata (see docs/api-ingest.md).
 *
 * Readings need a per-device seq; a signal has none, so it is derived from the payload, which is what a
 * resend repeats: seq = P * 2^20 + i, where P is the first 32 bits of SHA-256(payload text) and i the
 * point's index (a 1 MiB payload holds far fewer than 2^20 points). The readings table's key is
 * (device, ts, seq), so the same signal sent again (new nonce, new capturedAt even) stores nothing
 * twice, while two different signals only collide if they hold a point at the same ms with the same
 * index and their payload hashes share 32 bits.
 */
import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import { isoTimeToMs } from '../http/iso-time.js';

export const SIGNAL_DEVICE_PATTERN = /^[a-zA-Z0-9_-]{1,100}$/;
export const MAX_PAYLOAD_CHARS = 1_048_576;
/**
 * A signal's payload may hold 1 MiB of characters (up to 6 bytes each once JSON-escaped) in a JSON
 * envelope; a body beyond this cannot be a valid XRayRawSignal and is refused before any other work.
 */
export const SIGNAL_BODY_LIMIT_BYTES = 2 * MAX_PAYLOAD_CHARS + 65_536;
/** Points per signal: more than any 1 MiB payload can hold, and the seq layout's index room (2^20). */
export const MAX_POINTS = 1_048_576;
const INDEX_ROOM = 2 ** 20;
/**
 * The sample's `time` becomes the summary's signal_time, which PostgreSQL stores only within its
 * timestamp range: a time outside years 0000–9999 (what an ISO 8601 date-time can say) makes the payload
 * not sample data, so it is kept as an opaque reading at capturedAt instead of a summary the store refuses.
 */
const MIN_SAMPLE_TIME_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z (Date.UTC maps year 0 to 1900)
const MAX_SAMPLE_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const UUID_PATTERN = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const TOP_LEVEL = new Set(['deviceId', 'capturedAt', 'payload', 'schemaVersion', 'metadata', 'correlationId']);

export interface XRayRawSignal {
  readonly deviceId: string;
  readonly capturedAt: string;
  readonly capturedAtMs: number;
  readonly payload: string;
  readonly schemaVersion: 'v1' | 'v2';
  readonly metadata?: SignalMetadata;
  readonly correlationId?: string;
}

export interface SignalMetadata {
  readonly latitude?: number;
  readonly longitude?: number;
  readonly altitude?: number;
  readonly battery?: number;
  readonly signalStrength?: number;
}

export type SignalCheck =
  { readonly ok: true; readonly signal: XRayRawSignal } | { readonly ok: false; readonly detail: string };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** True when a JSON body looks like a signal rather than our reading envelope (it names a signal field). */
export function looksLikeSignal(value: unknown): boolean {
  return isPlainObject(value) && ('capturedAt' in value || 'payload' in value || 'deviceId' in value);
}

/** The XRayRawSignal JSON schema, checked by hand so every failure says which field and why. */
export function validateSignal(value: unknown): SignalCheck {
  if (!isPlainObject(value)) return { ok: false, detail: 'the signal must be a JSON object' };
  for (const name of Object.keys(value)) {
    if (!TOP_LEVEL.has(name)) return { ok: false, detail: `unexpected property ${JSON.stringify(name.slice(0, 64))}` };
  }
  const { deviceId, capturedAt, payload, schemaVersion, metadata, correlationId } = value;
  if (typeof deviceId !== 'string' || !SIGNAL_DEVICE_PATTERN.test(deviceId)) {
    return { ok: false, detail: 'deviceId must be 1..100 characters of [a-zA-Z0-9_-]' };
  }
  const capturedAtMs = typeof capturedAt === 'string' ? isoTimeToMs(capturedAt) : null;
  if (typeof capturedAt !== 'string' || capturedAtMs === null) {
    return { ok: false, detail: 'capturedAt must be an ISO 8601 date-time with a zone' };
  }
  if (typeof payload !== 'string' || payload.length === 0 || codePoints(payload) > MAX_PAYLOAD_CHARS) {
    return { ok: false, detail: `payload must be a string of 1..${MAX_PAYLOAD_CHARS} characters` };
  }
  if (schemaVersion !== 'v1' && schemaVersion !== 'v2') return { ok: false, detail: 'schemaVersion must be v1 or v2' };
  if (correlationId !== undefined && (typeof correlationId !== 'string' || !UUID_PATTERN.test(correlationId))) {
    return { ok: false, detail: 'correlationId must be a UUID' };
  }
  let meta: SignalMetadata | undefined;
  if (metadata !== undefined) {
    const checked = checkMetadata(metadata);
    if (typeof checked === 'string') return { ok: false, detail: checked };
    meta = checked;
  }
  return {
    ok: true,
    signal: {
      deviceId,
      capturedAt,
      capturedAtMs,
      payload,
      schemaVersion,
      ...(meta === undefined ? {} : { metadata: meta }),
      ...(correlationId === undefined ? {} : { correlationId }),
    },
  };
}

function codePoints(text: string): number {
  // JSON Schema counts characters (code points); UTF-16 length is an upper bound, so count only when needed.
  if (text.length <= MAX_PAYLOAD_CHARS) return text.length;
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Its schema's metadata: location {latitude, longitude required, altitude}, battery, signalStrength. */
function checkMetadata(metadata: unknown): SignalMetadata | string {
  if (!isPlainObject(metadata)) return 'metadata must be an object';
  const out: { -readonly [K in keyof SignalMetadata]: number } = {};
  const { location, battery, signalStrength } = metadata;
  if (location !== undefined) {
    if (!isPlainObject(location)) return 'metadata.location must be an object';
    const { latitude, longitude, altitude } = location;
    if (!isFiniteNumber(latitude) || latitude < -90 || latitude > 90) {
      return 'metadata.location.latitude must be a number in -90..90';
    }
    if (!isFiniteNumber(longitude) || longitude < -180 || longitude > 180) {
      return 'metadata.location.longitude must be a number in -180..180';
    }
    out.latitude = latitude;
    out.longitude = longitude;
    if (altitude !== undefined) {
      if (!isFiniteNumber(altitude)) return 'metadata.location.altitude must be a number';
      out.altitude = altitude;
    }
  }
  if (battery !== undefined) {
    if (!isFiniteNumber(battery) || battery < 0 || battery > 100) return 'metadata.battery must be a number in 0..100';
    out.battery = battery;
  }
  if (signalStrength !== undefined) {
    if (!isFiniteNumber(signalStrength) || signalStrength < -120 || signalStrength > 0) {
      return 'metadata.signalStrength must be a number in -120..0';
    }
    out.signalStrength = signalStrength;
  }
  return out;
}

export interface SignalSummary {
  readonly deviceId: string;
  /** The sample data's `time`, or capturedAt for any other payload (ms since the epoch). */
  readonly time: number;
  readonly capturedAt: number;
  /** Data points (readings) the signal holds. */
  readonly dataLength: number;
  /** Bytes of the decoded payload (the JSON text, or what the base64 decodes to). */
  readonly dataVolume: number;
  readonly format: 'xray-sample' | 'opaque';
  readonly correlationId: string | null;
  /** SHA-256 of the payload text: with device and time, what makes a resent signal the same signal. */
  readonly payloadSha256: Buffer;
}

export interface ExpandedSignal {
  /** Reading candidates ({device, seq, ts, data}); the pipeline checks them like any other. */
  readonly readings: ReadonlyArray<Record<string, unknown>>;
  readonly summary: SignalSummary;
}

interface DecodedPayload {
  /** Bytes of the decoded payload (the JSON text's UTF-8, or what the base64 decodes to). */
  readonly byteLength: number;
  readonly encoding: 'json' | 'base64' | 'text';
  /** The parsed JSON when the payload (or what its base64 decodes to) is JSON. */
  readonly json?: unknown;
}

/** JSON text first (what XRayIOT's own tests send), then base64 of JSON, else opaque text. */
function decodePayload(payload: string): DecodedPayload {
  const json = parseJson(payload);
  // Only the length of the text's bytes is needed: no Buffer for it (one per AMQP message).
  if (json.ok) return { byteLength: Buffer.byteLength(payload, 'utf8'), encoding: 'json', json: json.value };
  if (BASE64_PATTERN.test(payload)) {
    const bytes = Buffer.from(payload, 'base64');
    const inner = isUtf8(bytes) ? parseJson(bytes.toString('utf8')) : NOT_JSON;
    return inner.ok
      ? { byteLength: bytes.length, encoding: 'base64', json: inner.value }
      : { byteLength: bytes.length, encoding: 'base64' };
  }
  return { byteLength: Buffer.byteLength(payload, 'utf8'), encoding: 'text' };
}

const NOT_JSON = { ok: false } as const;

/** The first character that is not JSON whitespace, as a char code (NaN when there is none). */
function firstNonSpace(text: string): number {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) return code;
  }
  return Number.NaN;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const first = firstNonSpace(text);
  // Only objects and arrays: "1234" or "true" are as likely base64 or plain text as JSON.
  if (first !== 0x7b && first !== 0x5b) return NOT_JSON;
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return NOT_JSON;
  }
}

type Point = readonly [offset: number, x: number, y: number, speed: number];

/** The sample data's single entry, or null when the payload is not in that format. */
function samplePoints(json: unknown): { time: number; points: Point[] } | null {
  if (!isPlainObject(json)) return null;
  const keys = Object.keys(json);
  if (keys.length !== 1) return null;
  const entry = json[keys[0] as string];
  if (!isPlainObject(entry)) return null;
  const { data, time } = entry;
  if (!isFiniteNumber(time) || time < MIN_SAMPLE_TIME_MS || time > MAX_SAMPLE_TIME_MS) return null;
  if (!Array.isArray(data) || data.length > MAX_POINTS) return null;
  const points: Point[] = [];
  for (const item of data) {
    if (!Array.isArray(item) || item.length !== 2) return null;
    const [offset, values] = item as [unknown, unknown];
    if (!isFiniteNumber(offset) || !Array.isArray(values) || values.length !== 3) return null;
    const [x, y, speed] = values as [unknown, unknown, unknown];
    if (!isFiniteNumber(x) || !isFiniteNumber(y) || !isFiniteNumber(speed)) return null;
    points.push([offset, x, y, speed]);
  }
  return { time, points };
}

/** The signal as readings of `deviceId` (the device its signature speaks for) and its summary. */
export function expandSignal(signal: XRayRawSignal): ExpandedSignal {
  // One-shot: no Hash object per message.
  const payloadSha256 = hash('sha256', signal.payload, 'buffer');
  const seqBase = payloadSha256.readUInt32BE(0) * INDEX_ROOM;
  const decoded = decodePayload(signal.payload);
  const sample = decoded.json === undefined ? null : samplePoints(decoded.json);
  const device = signal.deviceId;
  const correlationId = signal.correlationId ?? null;
  if (sample !== null) {
    const { points } = sample;
    const readings = new Array<Record<string, unknown>>(points.length);
    for (let index = 0; index < points.length; index += 1) {
      const point = points[index] as Point;
      readings[index] = {
        device,
        seq: seqBase + index,
        ts: Math.round(sample.time + point[0]),
        data: { x: point[1], y: point[2], speed: point[3] },
      };
    }
    return {
      readings,
      summary: {
        deviceId: device,
        time: Math.round(sample.time),
        capturedAt: signal.capturedAtMs,
        dataLength: readings.length,
        dataVolume: decoded.byteLength,
        format: 'xray-sample',
        correlationId,
        payloadSha256,
      },
    };
  }
  const data: Record<string, unknown> = {
    payload: signal.payload,
    encoding: decoded.encoding,
    schemaVersion: signal.schemaVersion,
    ...signal.metadata,
    ...(signal.correlationId === undefined ? {} : { correlationId: signal.correlationId }),
  };
  return {
    readings: [{ device, seq: seqBase, ts: signal.capturedAtMs, data }],
    summary: {
      deviceId: device,
      time: signal.capturedAtMs,
      capturedAt: signal.capturedAtMs,
      dataLength: 1,
      dataVolume: decoded.byteLength,
      format: 'opaque',
      correlationId,
      payloadSha256,
    },
  };
}
