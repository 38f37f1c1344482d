/**
 * The seed's per-message token: hex(iv16) ":" hex(aes-256-ctr(sha256(ENCRYPTION_KEY), iv, plaintext)),
 * where the plaintext carries its own integrity field secret_key = hex(sha256(JSON of the three fields)).
 * Byte-compatible with the seed; opening runs once per legacy message, so it stays allocation-lean.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { LegacyMessage } from './reading.types.js';
import { ProtocolError, reject, type Rejection } from './reasons.js';

export type LegacyHashVariant = 'sorted' | 'insertion';

export type LegacyOpenResult =
  { ok: true; message: LegacyMessage; ivHex: string; variant: LegacyHashVariant } | Rejection;

const IV_BYTES = 16;
const IV_HEX_CHARS = IV_BYTES * 2;
const KEY_BYTES = 32;
const ALL_VARIANTS: readonly LegacyHashVariant[] = ['sorted', 'insertion'];

export function legacyKey(encryptionKey: string): Buffer {
  return createHash('sha256').update(encryptionKey, 'utf8').digest();
}

/**
 * 'sorted' hashes {destination, name, origin} (keys sorted, as the seed emitter does);
 * 'insertion' hashes {name, origin, destination}. Only the three fields are hashed, whatever else the object has.
 */
export function legacySecretKey(message: LegacyMessage, variant: LegacyHashVariant = 'sorted'): string {
  const { name, origin, destination } = message;
  const json =
    variant === 'sorted'
      ? JSON.stringify({ destination, name, origin })
      : JSON.stringify({ name, origin, destination });
  return createHash('sha256').update(json, 'utf8').digest('hex');
}

function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new ProtocolError('legacy_bad_token', 'legacy key must be 32 bytes (use legacyKey)');
  }
}

export function sealLegacyToken(
  message: LegacyMessage,
  key: Buffer,
  options: { iv?: Buffer; variant?: LegacyHashVariant } = {},
): string {
  assertKey(key);
  const iv = options.iv ?? randomBytes(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new ProtocolError('legacy_bad_token', 'legacy IV must be 16 bytes');
  const { name, origin, destination } = message;
  const plaintext = JSON.stringify({
    name,
    origin,
    destination,
    secret_key: legacySecretKey(message, options.variant ?? 'sorted'),
  });
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${iv.toString('hex')}:${ciphertext.toString('hex')}`;
}

/** Node's hex decoder stops at the first bad pair, so a short result means the text was not all hex. */
function decodeHex(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 2 !== 0) return undefined;
  const bytes = Buffer.from(text, 'hex');
  return bytes.length * 2 === text.length ? bytes : undefined;
}

/**
 * Reasons: legacy_bad_token (not ivhex:cthex with a 16-byte IV), legacy_bad_json (plaintext is not an object
 * with string name, origin, destination, secret_key), legacy_integrity_failed (secret_key matches no accepted
 * variant). ivHex is lower-case so replay checks compare IVs, not spellings.
 */
export function openLegacyToken(
  token: string,
  key: Buffer,
  accept: readonly LegacyHashVariant[] = ALL_VARIANTS,
): LegacyOpenResult {
  assertKey(key);
  if (typeof token !== 'string' || token.charCodeAt(IV_HEX_CHARS) !== 0x3a /* ':' */) {
    return reject('legacy_bad_token', 'token must be 32 hex characters of IV, a colon, then hex ciphertext');
  }
  const iv = decodeHex(token.slice(0, IV_HEX_CHARS));
  if (iv === undefined) return reject('legacy_bad_token', 'token IV is not 32 hex characters');
  const ciphertext = decodeHex(token.slice(IV_HEX_CHARS + 1));
  if (ciphertext === undefined) return reject('legacy_bad_token', 'token ciphertext is not non-empty even-length hex');

  const plaintext = createDecipheriv('aes-256-ctr', key, iv).update(ciphertext).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    return reject('legacy_bad_json', 'decrypted token is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('legacy_bad_json', 'decrypted token is not a JSON object');
  }
  const { name, origin, destination, secret_key: secretKey } = parsed as Record<string, unknown>;
  if (
    typeof name !== 'string' ||
    typeof origin !== 'string' ||
    typeof destination !== 'string' ||
    typeof secretKey !== 'string'
  ) {
    return reject('legacy_bad_json', 'decrypted token lacks string name, origin, destination or secret_key');
  }
  const message: LegacyMessage = { name, origin, destination };
  // secret_key is a hash of public fields, not a secret, so a plain comparison leaks nothing.
  for (const variant of accept) {
    if (legacySecretKey(message, variant) === secretKey) {
      return { ok: true, message, ivHex: iv.toString('hex'), variant };
    }
  }
  return reject('legacy_integrity_failed');
}
