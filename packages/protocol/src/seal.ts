/**
 * Sealing a batch of readings into one DATA frame and opening it again. One cipher operation per frame:
 * the whole readings array is one JSON plaintext, authenticated together with the frame header.
 */
import { isUtf8 } from 'node:buffer';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  CipherSuite,
  DEFAULT_MAX_READINGS_PER_FRAME,
  FrameType,
  HARD_MAX_FRAME_BYTES,
  KEY_ID_PATTERN,
  LENGTH_PREFIX_BYTES,
  PROTOCOL_VERSION,
  SUITE_LAYOUT,
  type CipherSuiteNumber,
} from './constants.js';
import type { DataFrame } from './frame-types.js';
import type { DeviceKey } from './keys.js';
import type { Reading } from './reading.types.js';
import { ProtocolError } from './errors.js';
import { reject, type Rejection } from './reasons.js';
import { assertU32 } from './wire-checks.js';

export interface SealOptions {
  suite: CipherSuiteNumber;
  keyId: string;
  frameId: number;
  /** ms since epoch; default Date.now(). */
  sentAt?: number;
  /** Fixed IV for test vectors only; production callers leave it out and get a fresh random IV. */
  iv?: Buffer;
}

export type OpenResult = { ok: true; readings: unknown[] } | Rejection;

/** version, type, suite, frameId, sentAt, keyIdLen: the body bytes before the key id. */
const FIXED_HEADER_BYTES = 16;
const GCM_TAG_BYTES = 16;

/**
 * Returns the full frame including its length prefix. Throws ProtocolError for caller bugs: unknown suite,
 * bad key id, frameId/sentAt out of range, wrong IV length, an empty batch, or a frame over the 16 MiB ceiling
 * (callers must size batches to the hub's configured maxFrameBytes themselves).
 */
export function sealReadings(readings: readonly Reading[], key: DeviceKey, options: SealOptions): Buffer {
  const layout = SUITE_LAYOUT[options.suite];
  if (layout === undefined) throw new ProtocolError('unknown_suite', `suite ${String(options.suite)} is not supported`);
  if (!KEY_ID_PATTERN.test(options.keyId)) {
    throw new ProtocolError('malformed_frame', 'keyId must be 1..64 characters of [A-Za-z0-9._:-]');
  }
  assertU32('frameId', options.frameId);
  const sentAt = options.sentAt ?? Date.now();
  if (!Number.isSafeInteger(sentAt) || sentAt < 0) {
    throw new ProtocolError('malformed_frame', 'sentAt must be a safe integer >= 0');
  }
  const iv = options.iv ?? randomBytes(layout.ivBytes);
  if (iv.length !== layout.ivBytes)
    throw new ProtocolError('malformed_frame', `suite needs a ${layout.ivBytes}-byte IV`);
  if (readings.length === 0) throw new ProtocolError('bad_payload', 'a DATA frame carries at least one reading');

  const json = JSON.stringify(readings);
  const plaintextBytes = Buffer.byteLength(json, 'utf8');
  const keyIdBytes = options.keyId.length; // ASCII by the pattern above
  const headerBytes = FIXED_HEADER_BYTES + keyIdBytes + layout.ivBytes;
  const bodyBytes = headerBytes + plaintextBytes + layout.tagBytes;
  if (bodyBytes > HARD_MAX_FRAME_BYTES) {
    throw new ProtocolError('frame_too_large', `sealed frame would be ${bodyBytes} bytes; split the batch`);
  }

  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + bodyBytes);
  let at = frame.writeUInt32BE(bodyBytes, 0);
  at = frame.writeUInt8(PROTOCOL_VERSION, at);
  at = frame.writeUInt8(FrameType.Data, at);
  at = frame.writeUInt8(options.suite, at);
  at = frame.writeUInt32BE(options.frameId, at);
  at = frame.writeBigUInt64BE(BigInt(sentAt), at);
  at = frame.writeUInt8(keyIdBytes, at);
  at += frame.write(options.keyId, at, 'latin1');
  at += iv.copy(frame, at);
  const header = frame.subarray(LENGTH_PREFIX_BYTES, at);
  const ciphertextStart = at;
  const tagStart = ciphertextStart + plaintextBytes;
  // The plaintext is staged where the ciphertext goes, then overwritten: one buffer for the whole frame.
  frame.write(json, ciphertextStart, 'utf8');
  const plaintext = frame.subarray(ciphertextStart, tagStart);

  if (options.suite === CipherSuite.Aes256Gcm) {
    const cipher = createCipheriv('aes-256-gcm', key.encKey, iv, { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(header);
    cipher.update(plaintext).copy(frame, ciphertextStart);
    cipher.final();
    cipher.getAuthTag().copy(frame, tagStart);
  } else {
    const cipher = createCipheriv('aes-256-ctr', key.encKey, iv);
    cipher.update(plaintext).copy(frame, ciphertextStart);
    cipher.final();
    createHmac('sha256', key.macKey).update(header).update(plaintext).digest().copy(frame, tagStart);
  }
  return frame;
}

function decrypt(frame: DataFrame, key: DeviceKey): Buffer | Rejection {
  const layout = SUITE_LAYOUT[frame.suite];
  if (layout === undefined) return reject('unknown_suite', `suite ${frame.suite} is not supported`);
  if (frame.iv.length !== layout.ivBytes || frame.tag.length !== layout.tagBytes) {
    return reject('integrity_failed', 'IV or tag length does not match the suite');
  }
  if (frame.suite === CipherSuite.Aes256Gcm) {
    const decipher = createDecipheriv('aes-256-gcm', key.encKey, frame.iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(frame.header);
    decipher.setAuthTag(frame.tag);
    const plaintext = decipher.update(frame.ciphertext);
    try {
      decipher.final();
    } catch {
      return reject('integrity_failed');
    }
    return plaintext;
  }
  // Encrypt-then-MAC: verify before decrypting anything.
  const expected = createHmac('sha256', key.macKey).update(frame.header).update(frame.ciphertext).digest();
  if (!timingSafeEqual(expected, frame.tag)) return reject('integrity_failed');
  return createDecipheriv('aes-256-ctr', key.encKey, frame.iv).update(frame.ciphertext);
}

/**
 * Verifies and decrypts a DATA frame and returns the JSON array elements UNVALIDATED (see validateReading).
 * Reasons: unknown_suite, integrity_failed, bad_payload, too_many_readings.
 */
export function openDataFrame(
  frame: DataFrame,
  key: DeviceKey,
  maxReadings: number = DEFAULT_MAX_READINGS_PER_FRAME,
): OpenResult {
  const plaintext = decrypt(frame, key);
  if (!Buffer.isBuffer(plaintext)) return plaintext;
  // JSON travels as UTF-8 (RFC 8259). Decoding would silently turn invalid bytes into U+FFFD and store
  // text the device never sent, so an authentic payload that is not UTF-8 is refused instead.
  if (!isUtf8(plaintext)) return reject('bad_payload', 'decrypted payload is not valid UTF-8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    return reject('bad_payload', 'decrypted payload is not valid JSON');
  }
  if (!Array.isArray(parsed)) return reject('bad_payload', 'decrypted payload is not a JSON array');
  if (parsed.length === 0) return reject('bad_payload', 'decrypted payload is an empty array');
  if (parsed.length > maxReadings) {
    return reject('too_many_readings', `${parsed.length} readings exceed the maximum of ${maxReadings}`);
  }
  return { ok: true, readings: parsed };
}
