/**
 * Incremental decoder for a byte stream of native frames. Chunks are kept as a list (no per-chunk concat);
 * a frame that lies inside one chunk is returned as a view into that chunk, a frame spanning chunks is
 * copied once into its own buffer. Buffering is bounded by maxFrameBytes: a larger length prefix is fatal
 * as soon as its 4 bytes arrive, and version/type are checked as soon as their 2 bytes arrive.
 */
import {
  DEFAULT_MAX_FRAME_BYTES,
  HARD_MAX_FRAME_BYTES,
  LENGTH_PREFIX_BYTES,
  MIN_BODY_BYTES,
  PROTOCOL_VERSION,
  RAW_SAMPLE_BYTES,
} from './constants.js';
import { isKnownFrameType, parseFrame } from './frame-parse.js';
import type { Frame } from './frame-types.js';
import { ProtocolError } from './errors.js';
import { reject, type ReasonCode, type Rejection } from './reasons.js';

export interface FrameDecoderOptions {
  /** Largest accepted body (bytes after the length prefix); default 1 MiB, at most 16 MiB. */
  maxFrameBytes?: number;
}

/**
 * A decoded frame, or a refusal. `fatal` refusals mean the byte stream can no longer be framed and the
 * connection must close; their `raw` is the bytes the verdict rests on: the 4-byte length prefix
 * (frame_too_large, short prefix), prefix + version + type (bad_version, unknown_frame_type), or the first
 * 256 buffered bytes of the cut-off frame (frame_truncated at end).
 * Non-fatal refusals (a body that does not parse for its type) carry the whole frame in `raw`.
 */
export type DecodeItem = { ok: true; frame: Frame } | (Rejection & { fatal: boolean; raw: Buffer });

const HEADER_PROBE_BYTES = LENGTH_PREFIX_BYTES + MIN_BODY_BYTES;
/** Chunks smaller than this are copied into a shared tail store, so a trickling sender costs bytes, not objects. */
const SMALL_CHUNK_BYTES = 1024;
const TAIL_STORE_BYTES = 16 * 1024;

export class FrameDecoder {
  readonly #maxFrameBytes: number;
  /** Unconsumed chunks are chunks[first..]; the first one is consumed up to #head. */
  #chunks: Buffer[] = [];
  #first = 0;
  #head = 0;
  #buffered = 0;
  /** Body length of the frame being assembled once its prefix, version and type passed; -1 before. */
  #bodyLength = -1;
  #dead = false;
  /**
   * Owned store that small chunks are appended to while its view is the last list entry. A store is never
   * rewritten after bytes are placed in it, so views handed out earlier stay valid.
   */
  #tailStore: Buffer | undefined;
  #tailUsed = 0;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < MIN_BODY_BYTES || max > HARD_MAX_FRAME_BYTES) {
      throw new ProtocolError('frame_too_large', `maxFrameBytes must be an integer in 2..${HARD_MAX_FRAME_BYTES}`);
    }
    this.#maxFrameBytes = max;
  }

  /** Bytes buffered of an incomplete frame (for slow-sender detection). */
  get pendingBytes(): number {
    return this.#buffered;
  }

  /**
   * Takes ownership of `chunk`: returned DATA frames may be views into it, so the caller must not modify it
   * afterwards. After a fatal item the decoder is dead and returns [].
   */
  push(chunk: Buffer): DecodeItem[] {
    if (this.#dead) return [];
    const items: DecodeItem[] = [];
    if (chunk.length === 0) return items;
    this.#append(chunk);
    for (;;) {
      if (this.#bodyLength < 0) {
        if (this.#buffered < LENGTH_PREFIX_BYTES) break;
        const length = this.#peekU32();
        if (length > this.#maxFrameBytes) {
          items.push(this.#fatal('frame_too_large', `length prefix ${length} exceeds ${this.#maxFrameBytes}`, 4));
          break;
        }
        if (length < MIN_BODY_BYTES) {
          items.push(this.#fatal('frame_truncated', `length prefix ${length} is shorter than version and type`, 4));
          break;
        }
        if (this.#buffered < HEADER_PROBE_BYTES) break;
        const version = this.#peekByte(LENGTH_PREFIX_BYTES);
        if (version !== PROTOCOL_VERSION) {
          items.push(this.#fatal('bad_version', `version ${version} is not supported`, HEADER_PROBE_BYTES));
          break;
        }
        const type = this.#peekByte(LENGTH_PREFIX_BYTES + 1);
        if (!isKnownFrameType(type)) {
          items.push(this.#fatal('unknown_frame_type', `frame type ${type} is not known`, HEADER_PROBE_BYTES));
          break;
        }
        this.#bodyLength = length;
      }
      const frameBytes = LENGTH_PREFIX_BYTES + this.#bodyLength;
      if (this.#buffered < frameBytes) break;
      this.#bodyLength = -1;
      const raw = this.#take(frameBytes);
      const parsed = parseFrame(raw);
      items.push('ok' in parsed ? { ...parsed, fatal: false, raw } : { ok: true, frame: parsed });
    }
    return items;
  }

  #append(chunk: Buffer): void {
    this.#buffered += chunk.length;
    if (chunk.length >= SMALL_CHUNK_BYTES) {
      this.#chunks.push(chunk);
      this.#tailStore = undefined;
      return;
    }
    let store = this.#tailStore;
    if (store === undefined || this.#tailUsed + chunk.length > store.length) {
      store = Buffer.allocUnsafe(TAIL_STORE_BYTES);
      this.#tailStore = store;
      this.#tailUsed = 0;
      this.#chunks.push(store.subarray(0, 0));
    }
    this.#tailUsed += chunk.copy(store, this.#tailUsed);
    this.#chunks[this.#chunks.length - 1] = store.subarray(0, this.#tailUsed);
  }

  /** Call when the stream ends: a partially buffered frame becomes a fatal frame_truncated. */
  end(): DecodeItem[] {
    if (this.#dead) return [];
    if (this.#buffered === 0) {
      this.#kill();
      return [];
    }
    return [
      this.#fatal(
        'frame_truncated',
        `stream ended inside a frame (${this.#buffered} bytes buffered)`,
        Math.min(this.#buffered, RAW_SAMPLE_BYTES),
      ),
    ];
  }

  /**
   * `sampleBytes` is what the verdict rests on (prefix, or prefix + version + type), so the same input
   * yields the same item however it was chunked.
   */
  #fatal(reason: ReasonCode, detail: string, sampleBytes: number): DecodeItem {
    const raw = this.#sample(sampleBytes);
    this.#kill();
    return { ...reject(reason, detail), fatal: true, raw };
  }

  #kill(): void {
    this.#dead = true;
    this.#chunks = [];
    this.#first = 0;
    this.#head = 0;
    this.#buffered = 0;
    this.#bodyLength = -1;
    this.#tailStore = undefined;
  }

  #peekByte(index: number): number {
    let offset = this.#head + index;
    for (let i = this.#first; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i] as Buffer;
      if (offset < chunk.length) return chunk[offset] as number;
      offset -= chunk.length;
    }
    throw new Error('peek past buffered bytes'); // unreachable: callers check #buffered first
  }

  #peekU32(): number {
    const chunk = this.#chunks[this.#first] as Buffer;
    if (chunk.length - this.#head >= 4) return chunk.readUInt32BE(this.#head);
    return ((this.#peekByte(0) << 24) | (this.#peekByte(1) << 16) | (this.#peekByte(2) << 8) | this.#peekByte(3)) >>> 0;
  }

  /** A copy of the first `bytes` buffered bytes, without consuming them. */
  #sample(bytes: number): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let written = 0;
    let offset = this.#head;
    for (let i = this.#first; i < this.#chunks.length && written < bytes; i++) {
      const chunk = this.#chunks[i] as Buffer;
      written += chunk.copy(out, written, offset, Math.min(chunk.length, offset + bytes - written));
      offset = 0;
    }
    return out;
  }

  /** Consumes `bytes` bytes: a view when they lie in one chunk, otherwise one copy. */
  #take(bytes: number): Buffer {
    const firstChunk = this.#chunks[this.#first] as Buffer;
    let out: Buffer;
    if (firstChunk.length - this.#head >= bytes) {
      out = firstChunk.subarray(this.#head, this.#head + bytes);
      this.#head += bytes;
      if (this.#head === firstChunk.length) this.#advanceChunk();
    } else {
      out = Buffer.allocUnsafe(bytes);
      let written = 0;
      while (written < bytes) {
        const chunk = this.#chunks[this.#first] as Buffer;
        const end = Math.min(chunk.length, this.#head + bytes - written);
        written += chunk.copy(out, written, this.#head, end);
        this.#head = end;
        if (end === chunk.length) this.#advanceChunk();
      }
    }
    this.#buffered -= bytes;
    return out;
  }

  #advanceChunk(): void {
    this.#head = 0;
    this.#first++;
    if (this.#first === this.#chunks.length) {
      this.#chunks = [];
      this.#first = 0;
      // The tail store's view just left the list; start a fresh store rather than re-linking this one.
      this.#tailStore = undefined;
    } else if (this.#first >= 1024) {
      // Many tiny chunks (a byte-at-a-time sender): drop the consumed prefix so the list stays bounded.
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}
