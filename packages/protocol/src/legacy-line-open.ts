/**
 * Opens a whole legacy DATA line from its bytes (what follows `DATA:`): splits it on `|` and opens every
 * token as openLegacyTokens does (one CtrBatch, one ECB call for the line), and also gives each opened
 * token's message as compact JSON bytes — the seed's own `{"name":…,"origin":…,"destination":…}`, which
 * for the seed's exact plaintext shape is the plaintext minus its secret_key, copied without re-encoding.
 *
 * Why bytes: a seed line is ~175 KB. As one JavaScript string it lands in V8's large-object space (over
 * 128 KB), and making one per line cost the hub's event loop more than opening its tokens did. Bytes stay
 * outside the JS heap and cross to a worker thread as a plain copy; only each token's ciphertext (~340
 * bytes) becomes a short string here, for Node's hex decoder.
 *
 * Contract: for any bytes, token i opens exactly as openLegacyTokens(latin1(line).split('|'))[i] (same
 * message and variant, same refusal reason and detail) except that an empty line has no tokens (as
 * parseLegacyLine gives `DATA:` none); latin1 is the decoding where one byte is one character, so a
 * token's raw bytes are Buffer.from(token, 'latin1').
 */
import { AES_BLOCK_BYTES, ctrBatch, ctrBlocks } from './aes-ctr-batch.js';
import type { DecryptedTokens, LegacyHashVariant } from './legacy-token.js';
import { assertKey, matchingVariant, readDecrypted } from './legacy-token.js';
import type { LegacyMessage } from './reading.types.js';
import { reject, type Rejection } from './reasons.js';

export type LegacyLineResult =
  | {
      readonly ok: true;
      readonly message: LegacyMessage;
      readonly variant: LegacyHashVariant;
      /**
       * True when name, origin and destination hold no character JSON.stringify would escape (and no
       * `"`), so their compact JSON is the raw text between quotes.
       */
      readonly plain: boolean;
    }
  | Rejection;

export interface LegacyLineOpening {
  /** One per token, in line order. */
  readonly results: LegacyLineResult[];
  /** Token i is bytes [i === 0 ? 0 : tokenEnds[i - 1] + 1, tokenEnds[i]) of the line. */
  readonly tokenEnds: Uint32Array;
  /** The IV of each token that opened, as four big-endian words at 4·i (0 for a refused token). */
  readonly ivWords: Uint32Array;
  /**
   * JSON.stringify({name, origin, destination}) of each opened token's message, as UTF-8, one after the
   * other; token i's ends at messageJsonEnds[i] (a refused token's is empty). A shared scratch buffer:
   * valid until the next call.
   */
  readonly messageJson: Buffer;
  readonly messageJsonEnds: Uint32Array;
}

const IV_BYTES = 16;
const IV_HEX_CHARS = 2 * IV_BYTES;
const COLON = 0x3a;
const BAR = 0x7c;
const CLOSE_BRACE = 0x7d;
/** `,"secret_key":"` and the closing `"}` around the secret key at the end of the seed's plaintext. */
const SECRET_KEY_FRAME_BYTES = ',"secret_key":"'.length + '"}'.length;
const ALL_VARIANTS: readonly LegacyHashVariant[] = ['sorted', 'insertion'];

let jsonScratch: Buffer = Buffer.allocUnsafeSlow(128 * 1024);

/** Tokens in a line: none when it is empty, else one more than its `|` bytes. */
export function legacyLineTokenCount(line: Uint8Array): number {
  if (line.length === 0) return 0;
  const bytes = asBuffer(line);
  let count = 1;
  for (let at = bytes.indexOf(BAR); at !== -1; at = bytes.indexOf(BAR, at + 1)) count += 1;
  return count;
}

function asBuffer(line: Uint8Array): Buffer {
  return Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
}

/** Room for `more` bytes after `used` in the JSON scratch. */
function jsonRoom(used: number, more: number): Buffer {
  if (used + more > jsonScratch.length) {
    const grown = Buffer.allocUnsafeSlow(Math.max(used + more, 2 * jsonScratch.length));
    jsonScratch.copy(grown, 0, 0, used);
    jsonScratch = grown;
  }
  return jsonScratch;
}

/**
 * decryptTokens (legacy-token.ts) for the tokens of a line's bytes, with the same checks and refusals
 * in the same order, without making each token a string: the IV is decoded here, and only the
 * ciphertext becomes a (latin1) string, for Node's hex decoder.
 */
function decryptLine(
  bytes: Buffer,
  tokenEnds: Uint32Array,
  key: Buffer,
  results: Array<Rejection | unknown>,
): DecryptedTokens {
  const count = tokenEnds.length;
  const firstBlock = new Int32Array(count);
  const ciphertextBytes = new Int32Array(count);

  // Reserve room by length alone; refusals found while decoding just leave their room unused.
  let blocks = 0;
  let start = 0;
  for (let i = 0; i < count; i += 1) {
    const end = tokenEnds[i] as number;
    if (end - start <= IV_HEX_CHARS || bytes[start + IV_HEX_CHARS] !== COLON) {
      results[i] = reject('legacy_bad_token', 'token must be 32 hex characters of IV, a colon, then hex ciphertext');
      firstBlock[i] = -1;
    } else {
      firstBlock[i] = blocks;
      // At least one block, which holds the IV while the ciphertext is checked.
      blocks += Math.max(1, ctrBlocks((end - start - IV_HEX_CHARS - 1) >>> 1));
    }
    start = end + 1;
  }

  const batch = ctrBatch(blocks);
  start = 0;
  for (let i = 0; i < count; i += 1) {
    const tokenStart = start;
    const end = tokenEnds[i] as number;
    start = end + 1;
    const block = firstBlock[i] as number;
    if (block < 0) continue;
    const offset = block * AES_BLOCK_BYTES;
    if (!decodeIv(bytes, tokenStart, batch.counters, offset)) {
      results[i] = reject('legacy_bad_token', 'token IV is not 32 hex characters');
      firstBlock[i] = -1;
      continue;
    }
    const hexChars = end - tokenStart - IV_HEX_CHARS - 1;
    const length = hexChars >>> 1;
    if (
      hexChars === 0 ||
      hexChars % 2 !== 0 ||
      // Node's hex decoder stops at the first bad pair, so fewer bytes than expected means not all hex.
      batch.data.write(bytes.toString('latin1', tokenStart + IV_HEX_CHARS + 1, end), offset, length, 'hex') !== length
    ) {
      results[i] = reject('legacy_bad_token', 'token ciphertext is not non-empty even-length hex');
      firstBlock[i] = -1;
      continue;
    }
    ciphertextBytes[i] = length;
    batch.fillCounters(block, ctrBlocks(length));
  }

  batch.decrypt(key, blocks);
  return { batch, firstBlock, ciphertextBytes };
}

/** Byte → hex digit value, or -1 (either case, as Node's hex decoder accepts). */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let digit = 0; digit < 16; digit += 1) {
  const text = digit.toString(16);
  HEX_VALUE[text.charCodeAt(0)] = digit;
  HEX_VALUE[text.toUpperCase().charCodeAt(0)] = digit;
}

/** The 32 hex characters at `from` as 16 bytes at out[at…]; false if any is not a hex digit. */
function decodeIv(bytes: Buffer, from: number, out: Buffer, at: number): boolean {
  for (let i = 0; i < IV_BYTES; i += 1) {
    const high = HEX_VALUE[bytes[from + 2 * i] as number] as number;
    const low = HEX_VALUE[bytes[from + 2 * i + 1] as number] as number;
    if ((high | low) < 0) return false;
    out[at + i] = (high << 4) | low;
  }
  return true;
}

/** Opens every token of the line; throws only ProtocolError, and only for a key that is not 32 bytes. */
export function openLegacyLine(
  line: Uint8Array,
  key: Buffer,
  accept: readonly LegacyHashVariant[] = ALL_VARIANTS,
): LegacyLineOpening {
  assertKey(key);
  const bytes = asBuffer(line);
  const count = legacyLineTokenCount(bytes);
  const tokenEnds = new Uint32Array(count);
  let start = 0;
  for (let i = 0; i < count; i += 1) {
    const bar = i === count - 1 ? -1 : bytes.indexOf(BAR, start);
    const end = bar === -1 ? bytes.length : bar;
    tokenEnds[i] = end;
    start = end + 1;
  }

  const ivWords = new Uint32Array(4 * count);
  const messageJsonEnds = new Uint32Array(count);
  const results = new Array<LegacyLineResult>(count);
  const { batch, firstBlock, ciphertextBytes } = decryptLine(bytes, tokenEnds, key, results);
  const counters = batch.counters;
  let json: Buffer = jsonScratch;
  let used = 0;
  for (let i = 0; i < count; i += 1) {
    const block = firstBlock[i] as number;
    if (block >= 0) {
      const at = block * AES_BLOCK_BYTES;
      const end = at + (ciphertextBytes[i] as number);
      const read = readDecrypted(batch, at, end);
      const variant = read.ok ? matchingVariant(read, accept) : undefined;
      if (!read.ok) {
        results[i] = read;
      } else if (variant === undefined) {
        results[i] = reject('legacy_integrity_failed');
      } else {
        results[i] = { ok: true, message: read.message, variant, plain: read.plain };
        ivWords[4 * i] = counters.readUInt32BE(at);
        ivWords[4 * i + 1] = counters.readUInt32BE(at + 4);
        ivWords[4 * i + 2] = counters.readUInt32BE(at + 8);
        ivWords[4 * i + 3] = counters.readUInt32BE(at + 12);
        if (read.plain) {
          // The seed's shape with nothing escaped: the JSON is the plaintext up to its secret_key, closed.
          const jsonEnd = end - SECRET_KEY_FRAME_BYTES - read.secretKey.length;
          json = jsonRoom(used, jsonEnd - at + 1);
          used += batch.data.copy(json, used, at, jsonEnd);
          json[used] = CLOSE_BRACE;
          used += 1;
        } else {
          const { name, origin, destination } = read.message;
          const text = JSON.stringify({ name, origin, destination });
          json = jsonRoom(used, 3 * text.length);
          used += json.write(text, used, 'utf8');
        }
      }
    }
    messageJsonEnds[i] = used;
  }
  return { results, tokenEnds, ivWords, messageJson: json.subarray(0, used), messageJsonEnds };
}
