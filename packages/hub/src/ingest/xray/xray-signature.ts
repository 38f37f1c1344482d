/**
 * XRayIOT's request signature, shared by the signed HTTP route, the AMQP consumer and MQTT signed JSON:
 * header parsing (fail closed on anything missing, repeated or odd), the canonical string, the
 * constant-time comparison, and trying a device's keys. Pure of I/O.
 *
 *   payload   = hex(HMAC-<alg>(K, body bytes as received))
 *   canonical = "algorithm=<alg>&deviceId=<id>&nonce=<nonce>&payload=<payload>&timestamp=<timestamp>"
 *   signature = hex(HMAC-<alg>(K, canonical))                                  -> x-hmac-signature
 *
 * <alg> is x-algorithm (`sha256` or `sha512`; absent means sha256). <timestamp> is the signing-time
 * header exactly as sent: ISO 8601 (XRayIOT) or integer seconds / milliseconds since the epoch.
 * K is the HMAC key of the credential: for a string credential the UTF-8 bytes of the string (what
 * XRayIOT's `createHmac(alg, secretString)` uses), otherwise the raw 32-byte device secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DEVICE_ID_PATTERN } from '@sealstream/protocol';
import { XRAYIOT_DEFAULT_SECRET, type KeyEntry, type KeyResolver } from '../../pipeline/keyring.js';
import { isoTimeToMs } from '../http/iso-time.js';

export const SIGNATURE_HEADERS = {
  device: 'x-device-id',
  timestamp: 'x-timestamp',
  nonce: 'x-nonce',
  signature: 'x-hmac-signature',
  algorithm: 'x-algorithm',
} as const;

export type SignatureAlgorithm = 'sha256' | 'sha512';

export { XRAYIOT_DEFAULT_SECRET };
const DEFAULT_SECRET_BYTES = Buffer.from(XRAYIOT_DEFAULT_SECRET, 'utf8');

/** Below this an integer x-timestamp is read as seconds, at or above it as milliseconds (1e11 s is the year 5138). */
export const SECONDS_MS_THRESHOLD = 100_000_000_000;

const TIMESTAMP_PATTERN = /^[0-9]{1,16}$/;
const NONCE_PATTERN = /^[0-9a-fA-F]{32}$/;
/**
 * Lowercase only (what openssl, Node and XRayIOT print): with both cases allowed, flipping the case bit
 * of a letter would be a second spelling of the same signature that still verifies.
 */
const SIGNATURE_PATTERNS: Readonly<Record<SignatureAlgorithm, RegExp>> = {
  sha256: /^[0-9a-f]{64}$/,
  sha512: /^[0-9a-f]{128}$/,
};

export interface SignedRequestHeaders {
  readonly deviceId: string;
  /** The signing timestamp header as sent (it is signed in this form). */
  readonly timestamp: string;
  readonly timestampMs: number;
  /** The x-nonce header as sent. */
  readonly nonce: string;
  readonly signature: Buffer;
  readonly algorithm: SignatureAlgorithm;
}

export type HeaderCheck =
  { readonly ok: true; readonly value: SignedRequestHeaders } | { readonly ok: false; readonly detail: string };

type HeaderBag = Readonly<Record<string, unknown>>;

function single(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  // A repeated header is ambiguous (which one was signed?): treat it as malformed. AMQP header values
  // that are not strings (numbers, tables) are not what the signer sent either.
  return typeof value === 'string' ? value : undefined;
}

/** An integer x-timestamp as ms since the epoch: seconds when below SECONDS_MS_THRESHOLD, else milliseconds. */
export function timestampToMs(text: string): number | undefined {
  if (!TIMESTAMP_PATTERN.test(text)) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) return undefined;
  return value < SECONDS_MS_THRESHOLD ? value * 1000 : value;
}

/** A signing timestamp, integer (seconds or ms) or ISO 8601 with a zone, as ms since the epoch. */
export function signingTimeToMs(text: string): number | undefined {
  return timestampToMs(text) ?? isoTimeToMs(text) ?? undefined;
}

/**
 * Reads the signature headers; any one missing, repeated or malformed fails the request.
 * `timestampHeader`: where the signing time is (`x-timestamp` over HTTP, `x-timestamp-auth` on AMQP,
 * where x-timestamp is the publish time).
 */
export function readSignatureHeaders(
  headers: HeaderBag,
  timestampHeader: string = SIGNATURE_HEADERS.timestamp,
): HeaderCheck {
  const deviceId = single(headers, SIGNATURE_HEADERS.device);
  const timestamp = single(headers, timestampHeader);
  const nonce = single(headers, SIGNATURE_HEADERS.nonce);
  const signature = single(headers, SIGNATURE_HEADERS.signature);
  const algorithmText = headers[SIGNATURE_HEADERS.algorithm] === undefined ? 'sha256' : single(headers, 'x-algorithm');
  if (deviceId === undefined || !DEVICE_ID_PATTERN.test(deviceId)) {
    return { ok: false, detail: 'x-device-id is missing or not a device id' };
  }
  const timestampMs = timestamp === undefined ? undefined : signingTimeToMs(timestamp);
  if (timestamp === undefined || timestampMs === undefined) {
    return {
      ok: false,
      detail: `${timestampHeader} is missing or neither ISO 8601 with a zone nor integer seconds/ms since the epoch`,
    };
  }
  if (nonce === undefined || !NONCE_PATTERN.test(nonce)) {
    return { ok: false, detail: 'x-nonce is missing or not 32 hex characters' };
  }
  if (algorithmText !== 'sha256' && algorithmText !== 'sha512') {
    return { ok: false, detail: 'x-algorithm must be sha256 or sha512' };
  }
  const algorithm: SignatureAlgorithm = algorithmText;
  if (signature === undefined || !SIGNATURE_PATTERNS[algorithm].test(signature)) {
    const length = algorithm === 'sha256' ? 64 : 128;
    return { ok: false, detail: `x-hmac-signature is missing or not ${length} lowercase hex characters` };
  }
  return {
    ok: true,
    value: { deviceId, timestamp, timestampMs, nonce, signature: Buffer.from(signature, 'hex'), algorithm },
  };
}

export function payloadDigestHex(
  secret: Uint8Array,
  body: Uint8Array,
  algorithm: SignatureAlgorithm = 'sha256',
): string {
  return createHmac(algorithm, secret).update(body).digest('hex');
}

export function canonicalString(parts: {
  readonly deviceId: string;
  readonly nonce: string;
  readonly payloadHex: string;
  readonly timestamp: string;
  readonly algorithm?: SignatureAlgorithm;
}): string {
  const algorithm = parts.algorithm ?? 'sha256';
  return `algorithm=${algorithm}&deviceId=${parts.deviceId}&nonce=${parts.nonce}&payload=${parts.payloadHex}&timestamp=${parts.timestamp}`;
}

type SignatureInput = Pick<SignedRequestHeaders, 'deviceId' | 'nonce' | 'timestamp'> & {
  readonly algorithm?: SignatureAlgorithm;
};

/** The signature bytes a request with these headers and body must carry under `secret` (the HMAC key). */
export function expectedSignature(secret: Uint8Array, headers: SignatureInput, body: Uint8Array): Buffer {
  const algorithm = headers.algorithm ?? 'sha256';
  // canonicalString's text, built here without an object per message (this runs for every AMQP message).
  const payloadHex = payloadDigestHex(secret, body, algorithm);
  const canonical = `algorithm=${algorithm}&deviceId=${headers.deviceId}&nonce=${headers.nonce}&payload=${payloadHex}&timestamp=${headers.timestamp}`;
  return createHmac(algorithm, secret).update(canonical, 'utf8').digest();
}

/** Constant-time; a length mismatch (the wrong algorithm's digest) is simply false. */
export function signatureMatches(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Signs a request the XRayIOT way; returns the hex for x-hmac-signature (clients and tests). */
export function signRequestHex(secret: Uint8Array, headers: SignatureInput, body: Uint8Array): string {
  return expectedSignature(secret, headers, body).toString('hex');
}

/** The HMAC key of a credential: the UTF-8 bytes of a string credential, else the raw device secret. */
export function hmacKeyOf(entry: KeyEntry): Uint8Array {
  return entry.hmacSecret ?? entry.secret;
}

/** True when `key` is XRayIOT's published default secret. */
export function isDefaultSecret(key: Uint8Array): boolean {
  return key.length === DEFAULT_SECRET_BYTES.length && timingSafeEqual(key, DEFAULT_SECRET_BYTES);
}

export type SignatureVerdict =
  | { readonly kind: 'ok'; readonly entry: KeyEntry }
  | {
      readonly kind: 'refused';
      readonly reason: 'unknown_device' | 'bad_signature' | 'revoked_key';
      readonly detail: string;
    };

/**
 * Tries the device's live keys newest first (two during a rotation); revoked keys only name the
 * refusal. A key holding XRayIOT's default secret is skipped unless `allowDefaultSecret` (--demo).
 */
export function verifySignature(
  keys: KeyResolver,
  headers: SignedRequestHeaders,
  body: Uint8Array,
  allowDefaultSecret: boolean,
): SignatureVerdict {
  const entries = keys
    .keysForDevice(headers.deviceId)
    .filter((entry) => allowDefaultSecret || !isDefaultSecret(hmacKeyOf(entry)));
  if (entries.length === 0) {
    return { kind: 'refused', reason: 'unknown_device', detail: 'no key of the hub may speak for this device' };
  }
  for (const entry of entries) {
    if (entry.revoked) continue;
    if (signatureMatches(expectedSignature(hmacKeyOf(entry), headers, body), headers.signature)) {
      return { kind: 'ok', entry };
    }
  }
  for (const entry of entries) {
    if (!entry.revoked) continue;
    if (signatureMatches(expectedSignature(hmacKeyOf(entry), headers, body), headers.signature)) {
      return { kind: 'refused', reason: 'revoked_key', detail: 'the request is signed with a revoked key' };
    }
  }
  return {
    kind: 'refused',
    reason: 'bad_signature',
    detail: 'the signature does not verify with any key of the device',
  };
}
