/**
 * The seed's per-message token: hex(iv16) ":" hex(aes-256-ctr(sha256(ENCRYPTION_KEY), iv, plaintext)),
 * where the plaintext carries its own integrity field secret_key = hex(sha256(JSON of the three fields)).
 * Byte-compatible with the seed. Opening runs once per legacy message (up to ~100K a second), so a whole
 * line's tokens are opened together (openLegacyTokens) and openLegacyToken is the batch of one.
 */
import { createCipheriv, createHash, hash, randomBytes } from 'node:crypto';
import { AES_BLOCK_BYTES, ctrBatch, ctrBlocks, type CtrBatch } from './aes-ctr-batch.js';
import { readCanonicalPlaintext, readPlaintext, type LegacyPlaintext } from './legacy-plaintext.js';
import type { LegacyMessage } from './reading.types.js';
import { ProtocolError } from './errors.js';
import { reject, type Rejection } from './reasons.js';

export type LegacyHashVariant = 'sorted' | 'insertion';

export type LegacyOpenResult =
  { ok: true; message: LegacyMessage; ivHex: string; variant: LegacyHashVariant } | Rejection;

const IV_BYTES = 16;
const IV_HEX_CHARS = IV_BYTES * 2;
const KEY_BYTES = 32;
const ALL_VARIANTS: readonly LegacyHashVariant[] = ['sorted', 'insertion'];
const COLON = 0x3a;
const BACKSLASH = 0x5c;

export function legacyKey(encryptionKey: string): Buffer {
  return createHash('sha256').update(encryptionKey, 'utf8').digest();
}

/**
 * 'sorted' hashes {destination, name, origin} (keys sorted, as the seed emitter does);
 * 'insertion' hashes {name, origin, destination}. Only the three fields are hashed, whatever else the object has.
 */
export function legacySecretKey(message: LegacyMessage, variant: LegacyHashVariant = 'sorted'): string {
  return hash('sha256', hashInput(message, variant, false), 'hex');
}

/**
 * The compact JSON that secret_key hashes. `plain` says no field needs escaping (legacy-plaintext.ts), so
 * concatenation gives the same text as JSON.stringify without walking an object.
 */
function hashInput(message: LegacyMessage, variant: LegacyHashVariant, plain: boolean): string {
  const { name, origin, destination } = message;
  if (plain) {
    return variant === 'sorted'
      ? `{"destination":"${destination}","name":"${name}","origin":"${origin}"}`
      : `{"name":"${name}","origin":"${origin}","destination":"${destination}"}`;
  }
  return variant === 'sorted'
    ? JSON.stringify({ destination, name, origin })
    : JSON.stringify({ name, origin, destination });
}

export function assertKey(key: Buffer): void {
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

/**
 * Reasons: legacy_bad_token (not ivhex:cthex with a 16-byte IV), legacy_bad_json (plaintext is not an object
 * with string name, origin, destination, secret_key), legacy_integrity_failed (secret_key matches no accepted
 * variant). ivHex is lower-case so replay checks compare IVs, not spellings. Throws only ProtocolError, and
 * only for a key that is not 32 bytes.
 */
export function openLegacyToken(
  token: string,
  key: Buffer,
  accept: readonly LegacyHashVariant[] = ALL_VARIANTS,
): LegacyOpenResult {
  return openLegacyTokens([token], key, accept)[0] as LegacyOpenResult;
}

/**
 * Opens many tokens (one DATA line) at once: result i is exactly what openLegacyToken(tokens[i]) gives.
 * If `ivWords` is given (at least 4 words per token), the IV of each token that opens is also written
 * there as four big-endian 32-bit values at 4·i, so a caller keying on IVs need not parse ivHex again.
 *
 * Cheaper per token than one decipher each: the tokens' IVs and ciphertexts are decoded block-aligned
 * into one CtrBatch, whose single ECB call yields every keystream (aes-ctr-batch.ts); a word-wise scan of
 * each plaintext then decides whether the fast, JSON.parse-free reading of the seed's exact shape applies
 * (legacy-plaintext.ts).
 */
export function openLegacyTokens(
  tokens: readonly string[],
  key: Buffer,
  accept: readonly LegacyHashVariant[] = ALL_VARIANTS,
  ivWords?: Uint32Array,
): LegacyOpenResult[] {
  assertKey(key);
  if (ivWords !== undefined && ivWords.length < tokens.length * 4) {
    throw new ProtocolError('legacy_bad_token', 'ivWords must hold 4 words per token');
  }
  const results = new Array<LegacyOpenResult>(tokens.length);
  const { batch, firstBlock, ciphertextBytes } = decryptTokens(tokens, key, results);
  for (let i = 0; i < tokens.length; i += 1) {
    const block = firstBlock[i] as number;
    if (block < 0) continue;
    const start = block * AES_BLOCK_BYTES;
    const read = readDecrypted(batch, start, start + (ciphertextBytes[i] as number));
    const result = read.ok ? verify(read, accept, batch.counters, start) : read;
    results[i] = result;
    if (ivWords !== undefined && result.ok) {
      const counters = batch.counters;
      ivWords[4 * i] = counters.readUInt32BE(start);
      ivWords[4 * i + 1] = counters.readUInt32BE(start + 4);
      ivWords[4 * i + 2] = counters.readUInt32BE(start + 8);
      ivWords[4 * i + 3] = counters.readUInt32BE(start + 12);
    }
  }
  return results;
}

/** The tokens decrypted into one batch; token i's plaintext starts at block firstBlock[i] (-1: refused). */
export interface DecryptedTokens {
  readonly batch: CtrBatch;
  readonly firstBlock: Int32Array;
  readonly ciphertextBytes: Int32Array;
}

/**
 * Decodes every well-formed token into one CtrBatch and decrypts them all with one ECB call; a token that
 * is not `ivhex:cthex` gets its refusal in `results` and firstBlock -1. The batch is the shared scratch:
 * valid until the next call.
 */
export function decryptTokens(
  tokens: readonly string[],
  key: Buffer,
  results: Array<Rejection | unknown>,
): DecryptedTokens {
  const count = tokens.length;
  const firstBlock = new Int32Array(count);
  const ciphertextBytes = new Int32Array(count);

  // Reserve room by length alone; refusals found while decoding just leave their room unused.
  let blocks = 0;
  for (let i = 0; i < count; i += 1) {
    const token = tokens[i];
    if (typeof token !== 'string' || token.charCodeAt(IV_HEX_CHARS) !== COLON) {
      results[i] = reject('legacy_bad_token', 'token must be 32 hex characters of IV, a colon, then hex ciphertext');
      firstBlock[i] = -1;
      continue;
    }
    firstBlock[i] = blocks;
    // At least one block, which holds the IV while the ciphertext is checked.
    blocks += Math.max(1, ctrBlocks((token.length - IV_HEX_CHARS - 1) >>> 1));
  }

  const batch = ctrBatch(blocks);
  for (let i = 0; i < count; i += 1) {
    const block = firstBlock[i] as number;
    if (block < 0) continue;
    const token = tokens[i] as string;
    const offset = block * AES_BLOCK_BYTES;
    // Node's hex decoder stops at the first bad pair, so fewer bytes than expected means not all hex.
    // The IV is decoded from the token itself: 16 bytes are the 32 characters before the colon.
    if (batch.counters.write(token, offset, IV_BYTES, 'hex') !== IV_BYTES) {
      results[i] = reject('legacy_bad_token', 'token IV is not 32 hex characters');
      firstBlock[i] = -1;
      continue;
    }
    const hexChars = token.length - IV_HEX_CHARS - 1;
    const bytes = hexChars >>> 1;
    if (
      hexChars === 0 ||
      hexChars % 2 !== 0 ||
      batch.data.write(token.slice(IV_HEX_CHARS + 1), offset, bytes, 'hex') !== bytes
    ) {
      results[i] = reject('legacy_bad_token', 'token ciphertext is not non-empty even-length hex');
      firstBlock[i] = -1;
      continue;
    }
    ciphertextBytes[i] = bytes;
    batch.fillCounters(block, ctrBlocks(bytes));
  }

  batch.decrypt(key, blocks);
  return { batch, firstBlock, ciphertextBytes };
}

/** The decrypted plaintext at [start, end) of the batch, read the fast way when its bytes allow it. */
export function readDecrypted(batch: CtrBatch, start: number, end: number): LegacyPlaintext | Rejection {
  const text = batch.data.toString('utf8', start, end);
  return (isPlain(batch, start, end) ? readCanonicalPlaintext(text) : undefined) ?? readPlaintext(text);
}

/** The variant of `accept` whose secret_key the plaintext carries, or undefined: integrity failed. */
export function matchingVariant(
  read: LegacyPlaintext,
  accept: readonly LegacyHashVariant[],
): LegacyHashVariant | undefined {
  for (const variant of accept) {
    if (hash('sha256', hashInput(read.message, variant, read.plain), 'hex') === read.secretKey) return variant;
  }
  return undefined;
}

/**
 * True when the plaintext bytes [start, end) hold no byte below 0x20 and no backslash. In UTF-8 those
 * bytes only ever stand for themselves, and they are the only ones that make JSON.parse refuse a string
 * or JSON.stringify escape one, so without them the fast reading of the seed's shape is exact.
 * Four bytes at a time (start is block-aligned): `(w - 0x20202020) & ~w & 0x80808080` is non-zero exactly
 * when some byte of w is below 0x20, and the same test on w ^ 0x5c5c5c5c against 0x01 finds a backslash.
 */
function isPlain(batch: CtrBatch, start: number, end: number): boolean {
  const words = batch.dataWords;
  const wordEnd = (start >>> 2) + ((end - start) >>> 2);
  for (let i = start >>> 2; i < wordEnd; i += 1) {
    const word = words[i] as number;
    const flipped = word ^ 0x5c5c5c5c;
    if ((((word - 0x20202020) & ~word) | ((flipped - 0x01010101) & ~flipped)) & 0x80808080) return false;
  }
  const bytes = batch.data;
  for (let at = wordEnd << 2; at < end; at += 1) {
    const byte = bytes[at] as number;
    if (byte < 0x20 || byte === BACKSLASH) return false;
  }
  return true;
}

/** secret_key is a hash of public fields, not a secret, so a plain comparison leaks nothing. */
function verify(
  read: LegacyPlaintext,
  accept: readonly LegacyHashVariant[],
  counters: Buffer,
  ivOffset: number,
): LegacyOpenResult {
  const variant = matchingVariant(read, accept);
  if (variant === undefined) return reject('legacy_integrity_failed');
  return { ok: true, message: read.message, ivHex: counters.toString('hex', ivOffset, ivOffset + IV_BYTES), variant };
}
