/**
 * The XRayIOT-style request signature of POST /api/v1/ingest/signed: header parsing (fail closed on
 * anything missing or odd), the canonical string, and the constant-time comparison. Pure of I/O.
 *
 *   payload   = hex(HMAC-SHA256(secret, raw body bytes))
 *   canonical = "algorithm=sha256&deviceId=<x-device-id>&nonce=<x-nonce>&payload=<payload>&timestamp=<x-timestamp>"
 *   signature = hex(HMAC-SHA256(secret, canonical))                       -> x-hmac-signature
 *
 * `secret` is the raw 32-byte device secret (the bytes behind the 64 hex characters in configuration),
 * not a derived key. Header values enter the canonical string exactly as sent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DEVICE_ID_PATTERN } from '@sealstream/protocol';

export const SIGNATURE_HEADERS = {
  device: 'x-device-id',
  timestamp: 'x-timestamp',
  nonce: 'x-nonce',
  signature: 'x-hmac-signature',
} as const;

/** Below this an x-timestamp is read as seconds, at or above it as milliseconds (1e11 s is the year 5138). */
export const SECONDS_MS_THRESHOLD = 100_000_000_000;

const TIMESTAMP_PATTERN = /^[0-9]{1,16}$/;
const NONCE_PATTERN = /^[0-9a-fA-F]{32}$/;
/**
 * Lowercase only (what openssl, Node and XRayIOT clients print): with both cases allowed, flipping the
 * case bit of a letter would be a second spelling of the same signature that still verifies.
 */
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

export interface SignedRequestHeaders {
  readonly deviceId: string;
  /** The x-timestamp header as sent (it is signed in this form). */
  readonly timestamp: string;
  readonly timestampMs: number;
  /** The x-nonce header as sent. */
  readonly nonce: string;
  readonly signature: Buffer;
}

export type HeaderCheck =
  { readonly ok: true; readonly value: SignedRequestHeaders } | { readonly ok: false; readonly detail: string };

type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

function single(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  // A repeated header is ambiguous (which one was signed?): treat it as malformed.
  return typeof value === 'string' ? value : undefined;
}

/** x-timestamp as ms since the epoch: seconds when below SECONDS_MS_THRESHOLD, else milliseconds. */
export function timestampToMs(text: string): number | undefined {
  if (!TIMESTAMP_PATTERN.test(text)) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) return undefined;
  return value < SECONDS_MS_THRESHOLD ? value * 1000 : value;
}

/** Reads the four signature headers; any one missing, repeated or malformed fails the request. */
export function readSignatureHeaders(headers: HeaderBag): HeaderCheck {
  const deviceId = single(headers, SIGNATURE_HEADERS.device);
  const timestamp = single(headers, SIGNATURE_HEADERS.timestamp);
  const nonce = single(headers, SIGNATURE_HEADERS.nonce);
  const signature = single(headers, SIGNATURE_HEADERS.signature);
  if (deviceId === undefined || !DEVICE_ID_PATTERN.test(deviceId)) {
    return { ok: false, detail: 'x-device-id is missing or not a device id' };
  }
  const timestampMs = timestamp === undefined ? undefined : timestampToMs(timestamp);
  if (timestamp === undefined || timestampMs === undefined) {
    return { ok: false, detail: 'x-timestamp is missing or not an integer (seconds or ms since the epoch)' };
  }
  if (nonce === undefined || !NONCE_PATTERN.test(nonce)) {
    return { ok: false, detail: 'x-nonce is missing or not 32 hex characters' };
  }
  if (signature === undefined || !SIGNATURE_PATTERN.test(signature)) {
    return { ok: false, detail: 'x-hmac-signature is missing or not 64 lowercase hex characters' };
  }
  return { ok: true, value: { deviceId, timestamp, timestampMs, nonce, signature: Buffer.from(signature, 'hex') } };
}

export function payloadDigestHex(secret: Uint8Array, body: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function canonicalString(parts: {
  readonly deviceId: string;
  readonly nonce: string;
  readonly payloadHex: string;
  readonly timestamp: string;
}): string {
  return `algorithm=sha256&deviceId=${parts.deviceId}&nonce=${parts.nonce}&payload=${parts.payloadHex}&timestamp=${parts.timestamp}`;
}

/** The signature bytes a request with these headers and body must carry under `secret`. */
export function expectedSignature(
  secret: Uint8Array,
  headers: Pick<SignedRequestHeaders, 'deviceId' | 'nonce' | 'timestamp'>,
  body: Uint8Array,
): Buffer {
  const canonical = canonicalString({ ...headers, payloadHex: payloadDigestHex(secret, body) });
  return createHmac('sha256', secret).update(canonical, 'utf8').digest();
}

/** Constant-time; both sides are 32-byte digests (the header pattern guarantees the length). */
export function signatureMatches(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Signs a request the XRayIOT way; returns the hex for x-hmac-signature (clients and tests). */
export function signRequestHex(
  secret: Uint8Array,
  headers: { readonly deviceId: string; readonly nonce: string; readonly timestamp: string },
  body: Uint8Array,
): string {
  return expectedSignature(secret, headers, body).toString('hex');
}
