/**
 * Device bearer tokens for the InsightHub-style HTTP route: `sst_<keyId>_<mac>` where mac is
 * base64url (no padding) of HMAC-SHA256(device secret, "sealstream device token v1"). The token is
 * derived from the device secret, so it needs no storage and dies with its key (revoke or rotate the
 * key and the token stops working). Key ids never contain `_`, so the first `_` after the prefix ends
 * the key id unambiguously.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KEY_ID_PATTERN } from './constants.js';
import { ProtocolError } from './errors.js';

export const DEVICE_TOKEN_PREFIX = 'sst_';
/** The fixed message the token MAC is computed over; versioned so a future format cannot collide. */
export const DEVICE_TOKEN_CONTEXT = 'sealstream device token v1';
const MAC_BYTES = 32;
/** base64url of 32 bytes without padding. */
const MAC_B64_CHARS = 43;
const TOKEN_PATTERN = /^sst_([A-Za-z0-9.:-]{1,64})_([A-Za-z0-9_-]{43})$/;

function tokenMac(secret: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(DEVICE_TOKEN_CONTEXT, 'utf8').digest();
}

/** The bearer token of a key. Throws ProtocolError on a key id or secret we built wrong ourselves. */
export function deviceToken(keyId: string, secret: Uint8Array): string {
  if (!KEY_ID_PATTERN.test(keyId) || keyId.includes('_')) {
    throw new ProtocolError('unknown_key', 'key id does not match the key-id pattern');
  }
  if (secret.length !== MAC_BYTES) throw new ProtocolError('unknown_key', 'device secret must be 32 bytes');
  return `${DEVICE_TOKEN_PREFIX}${keyId}_${tokenMac(secret).toString('base64url')}`;
}

/** Splits a token into its key id and MAC, or undefined when it is not of the token's shape. */
export function parseDeviceToken(token: string): { readonly keyId: string; readonly mac: Buffer } | undefined {
  if (typeof token !== 'string') return undefined;
  const match = TOKEN_PATTERN.exec(token);
  if (match === null) return undefined;
  const [, keyId, macText] = match;
  if (keyId === undefined || macText === undefined || macText.length !== MAC_B64_CHARS) return undefined;
  const mac = Buffer.from(macText, 'base64url');
  // Reject non-canonical encodings (stray bits in the last character) so each MAC has one spelling.
  if (mac.length !== MAC_BYTES || mac.toString('base64url') !== macText) return undefined;
  return { keyId, mac };
}

/** Constant-time check of a parsed token's MAC against the key's secret. */
export function deviceTokenMatches(mac: Uint8Array, secret: Uint8Array): boolean {
  const expected = tokenMac(secret);
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}
