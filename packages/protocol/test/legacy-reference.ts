/**
 * The one-decipher-per-token legacy opener as it was before the batch opener, kept verbatim as the
 * reference the batch opener is property-tested against: same results, reasons and details, token by token.
 */
import { ProtocolError, reject, type LegacyHashVariant, type LegacyOpenResult } from '@sealstream/protocol';
import type { LegacyMessage } from '@sealstream/protocol';
import { createDecipheriv, createHash } from 'node:crypto';

const IV_BYTES = 16;
const IV_HEX_CHARS = IV_BYTES * 2;

export function referenceSecretKey(message: LegacyMessage, variant: LegacyHashVariant): string {
  const { name, origin, destination } = message;
  const json =
    variant === 'sorted'
      ? JSON.stringify({ destination, name, origin })
      : JSON.stringify({ name, origin, destination });
  return createHash('sha256').update(json, 'utf8').digest('hex');
}

function decodeHex(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 2 !== 0) return undefined;
  const bytes = Buffer.from(text, 'hex');
  return bytes.length * 2 === text.length ? bytes : undefined;
}

export function referenceOpen(
  token: string,
  key: Buffer,
  accept: readonly LegacyHashVariant[] = ['sorted', 'insertion'],
): LegacyOpenResult {
  if (!Buffer.isBuffer(key) || key.length !== 32) {
    throw new ProtocolError('legacy_bad_token', 'legacy key must be 32 bytes (use legacyKey)');
  }
  if (typeof token !== 'string' || token.charCodeAt(IV_HEX_CHARS) !== 0x3a) {
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
  for (const variant of accept) {
    if (referenceSecretKey(message, variant) === secretKey) {
      return { ok: true, message, ivHex: iv.toString('hex'), variant };
    }
  }
  return reject('legacy_integrity_failed');
}
