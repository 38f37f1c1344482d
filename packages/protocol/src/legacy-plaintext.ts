/**
 * Reads a decrypted legacy plaintext: `{"name":…,"origin":…,"destination":…,"secret_key":…}`.
 *
 * The seed emitter always writes exactly that compact shape, so the common case is read with a few
 * indexOf calls instead of JSON.parse; anything else (whitespace, other key order, extra keys, escapes,
 * non-strings) goes through JSON.parse with the original checks, so both paths accept the same inputs
 * and give the same message.
 */
import type { LegacyMessage } from './reading.types.js';
import { reject, type Rejection } from './reasons.js';

export interface LegacyPlaintext {
  readonly ok: true;
  readonly message: LegacyMessage;
  readonly secretKey: string;
  /**
   * True when name, origin and destination contain no character JSON.stringify would escape, so the
   * integrity hash input can be built by concatenation instead of JSON.stringify.
   */
  readonly plain: boolean;
}

const NAME = '{"name":"';
const ORIGIN = '","origin":"';
const DESTINATION = '","destination":"';
const SECRET_KEY = '","secret_key":"';
const CLOSE_BRACE = 0x7d;

/**
 * The seed's exact shape, for text decoded from UTF-8 (so no lone surrogates) and known to hold no
 * backslash and no character below U+0020 (the caller learns that while decrypting). Without backslashes
 * a string's first `"` is its end and the raw text is the value; without control characters JSON.parse
 * would accept it too, and JSON.stringify would escape nothing in it. Returns undefined for any other shape.
 */
export function readCanonicalPlaintext(text: string): LegacyPlaintext | undefined {
  if (!text.startsWith(NAME)) return undefined;
  let start = NAME.length;
  let end = text.indexOf('"', start);
  if (end === -1 || !text.startsWith(ORIGIN, end)) return undefined;
  const name = text.slice(start, end);
  start = end + ORIGIN.length;
  end = text.indexOf('"', start);
  if (end === -1 || !text.startsWith(DESTINATION, end)) return undefined;
  const origin = text.slice(start, end);
  start = end + DESTINATION.length;
  end = text.indexOf('"', start);
  if (end === -1 || !text.startsWith(SECRET_KEY, end)) return undefined;
  const destination = text.slice(start, end);
  start = end + SECRET_KEY.length;
  end = text.indexOf('"', start);
  if (end === -1 || end + 2 !== text.length || text.charCodeAt(end + 1) !== CLOSE_BRACE) return undefined;
  return { ok: true, message: { name, origin, destination }, secretKey: text.slice(start, end), plain: true };
}

/** Any plaintext: JSON.parse and the seed's field checks. */
export function readPlaintext(text: string): LegacyPlaintext | Rejection {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
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
  return { ok: true, message: { name, origin, destination }, secretKey, plain: false };
}
