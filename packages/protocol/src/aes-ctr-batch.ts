/**
 * AES-256-CTR for many short messages at once, byte-identical to OpenSSL's `aes-256-ctr`.
 *
 * Why: the legacy protocol seals every ~170-byte message under its own IV, and creating a decipher per
 * message (key schedule, OpenSSL context, JS wrapper) cost more than the AES itself. CTR's keystream is
 * just AES-ECB of the counter blocks IV, IV+1, IV+2, … (the whole 16-byte block is one big-endian
 * counter that carries across all 128 bits and wraps to zero after ff…ff, as OpenSSL's increment does).
 * ECB keeps no state between blocks, so one cipher per key, reused, turns the counter blocks of every
 * message of a batch into keystream in a single `update` call.
 *
 * A CtrBatch holds each message block-aligned in two buffers: `counters` (the caller writes the IV in the
 * message's first block) and `data` (the caller writes the ciphertext). Both own their memory (offset 0),
 * so 32-bit views over them are aligned and the counter and XOR loops work on words, not bytes.
 */
import { createCipheriv, type Cipher } from 'node:crypto';

export const AES_BLOCK_BYTES = 16;
const WORDS_PER_BLOCK = 4;

/** Counter arithmetic is big-endian; the word views use the platform's byte order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Converts between a big-endian word's value and its in-memory (platform order) word. Self-inverse. */
function bigEndianWord(word: number): number {
  if (!LITTLE_ENDIAN) return word;
  return ((word << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
}

/** The last key's ECB cipher. One entry: a hub has one legacy key, and a key change just rebuilds it. */
let cached: { readonly key: Buffer; readonly cipher: Cipher } | undefined;

function ecbCipher(key: Buffer): Cipher {
  if (cached === undefined || !cached.key.equals(key)) {
    const cipher = createCipheriv('aes-256-ecb', key, null);
    // Input is always whole blocks; padding would append a block of keystream nobody reads.
    cipher.setAutoPadding(false);
    // A copy, so a caller reusing its key buffer for another key cannot make the cache lie.
    cached = { key: Buffer.from(key), cipher };
  }
  return cached.cipher;
}

/** Counter blocks needed to cover `bytes` bytes of message. */
export function ctrBlocks(bytes: number): number {
  return Math.ceil(bytes / AES_BLOCK_BYTES);
}

/**
 * Batches up to this many blocks reuse one scratch CtrBatch instead of allocating (and later collecting)
 * two buffers per call: 1 MiB each, enough for the largest legacy line (1 MiB of hex is 512 KiB of bytes).
 */
const SCRATCH_MAX_BLOCKS = 65_536;
let scratch: CtrBatch | undefined;

/**
 * A batch of at least `blocks` blocks. Below the scratch limit it is the shared scratch batch, so it is
 * only valid until the next call: callers must copy out what they keep (plaintexts leave as strings)
 * before calling again, which synchronous use guarantees.
 */
export function ctrBatch(blocks: number): CtrBatch {
  if (blocks > SCRATCH_MAX_BLOCKS) return new CtrBatch(blocks);
  if (scratch === undefined || scratch.blocks < blocks) {
    // Grow geometrically so a run of slightly longer lines does not reallocate every time.
    scratch = new CtrBatch(Math.min(SCRATCH_MAX_BLOCKS, Math.max(blocks, 2 * (scratch?.blocks ?? 512))));
  }
  return scratch;
}

export class CtrBatch {
  readonly blocks: number;
  /** Counter blocks; a message's initial counter block (its IV) goes at its first block. */
  readonly counters: Buffer;
  /** Ciphertext in, plaintext out (after decrypt); a message starts at its first block. */
  readonly data: Buffer;
  /** `data` as platform-order words, for word-at-a-time scans of the plaintext. */
  readonly dataWords: Uint32Array;
  readonly #counterWords: Uint32Array;

  constructor(blocks: number) {
    this.blocks = blocks;
    // allocUnsafeSlow: an own ArrayBuffer at offset 0, never a slice of the shared pool, so views align.
    // Blocks the caller leaves unwritten hold stale bytes; their keystream is computed and never read.
    this.counters = Buffer.allocUnsafeSlow(blocks * AES_BLOCK_BYTES);
    this.data = Buffer.allocUnsafeSlow(blocks * AES_BLOCK_BYTES);
    this.#counterWords = new Uint32Array(this.counters.buffer, 0, blocks * WORDS_PER_BLOCK);
    this.dataWords = new Uint32Array(this.data.buffer, 0, blocks * WORDS_PER_BLOCK);
  }

  /**
   * Writes counter blocks 1..count-1 after the initial counter block already at block `first`: each is the
   * previous plus one, as a 128-bit big-endian integer modulo 2^128.
   */
  fillCounters(first: number, count: number): void {
    const words = this.#counterWords;
    const at = first * WORDS_PER_BLOCK;
    // The upper 96 bits are kept as stored words and only change when the low 32 bits wrap.
    let w0 = words[at] as number;
    let w1 = words[at + 1] as number;
    let w2 = words[at + 2] as number;
    let low = bigEndianWord(words[at + 3] as number);
    for (let block = 1; block < count; block += 1) {
      low = (low + 1) >>> 0;
      if (low === 0) {
        const n2 = (bigEndianWord(w2) + 1) >>> 0;
        w2 = bigEndianWord(n2);
        if (n2 === 0) {
          const n1 = (bigEndianWord(w1) + 1) >>> 0;
          w1 = bigEndianWord(n1);
          if (n1 === 0) w0 = bigEndianWord((bigEndianWord(w0) + 1) >>> 0);
        }
      }
      const to = at + block * WORDS_PER_BLOCK;
      words[to] = w0;
      words[to + 1] = w1;
      words[to + 2] = w2;
      words[to + 3] = bigEndianWord(low);
    }
  }

  /** data ^= AES-ECB(key, counters) over the first `used` blocks: afterwards those hold the plaintexts. */
  decrypt(key: Buffer, used: number): void {
    if (used === 0) return;
    // ECB without padding on whole blocks returns exactly as many bytes as it is given.
    const keystream = ecbCipher(key).update(this.counters.subarray(0, used * AES_BLOCK_BYTES));
    const data = this.dataWords;
    const words = used * WORDS_PER_BLOCK;
    if (keystream.byteOffset % 4 === 0) {
      const stream = new Uint32Array(keystream.buffer, keystream.byteOffset, words);
      for (let i = 0; i < words; i += 1) data[i] = (data[i] as number) ^ (stream[i] as number);
      return;
    }
    // Not seen in practice (OpenSSL output is its own buffer), but correctness must not rest on it.
    const bytes = this.data;
    for (let i = 0; i < keystream.length; i += 1) bytes[i] = (bytes[i] as number) ^ (keystream[i] as number);
  }
}
