/**
 * The seed's line layer: AUTH:/DATA: line encoders, the line parser, and a bounded newline splitter that
 * buffers lines across chunks (DATA lines reach ~175 KB) and skips over-long lines instead of dying.
 */
import { reject, type Rejection } from './reasons.js';

export const LEGACY_AUTH_OK = 'AUTH_OK\n';
export const LEGACY_AUTH_FAIL = 'AUTH_FAIL\n';

export type LegacyLine =
  { kind: 'auth'; token: string } | { kind: 'data'; tokens: string[] } | { kind: 'unknown'; text: string };

/** A complete line (terminator and a trailing `\r` removed), or an over-long line that was skipped. */
export type LineItem = { ok: true; line: string } | (Rejection & { raw: Buffer });

/** The same as bytes (pushBytes): the line's own copy, which the splitter never reuses. */
export type ByteLineItem = { ok: true; bytes: Buffer } | (Rejection & { raw: Buffer });

export interface LineSplitterOptions {
  /** Longest accepted line in bytes, not counting the `\n`; default 1 MiB. */
  maxLineBytes?: number;
}

const DEFAULT_MAX_LINE_BYTES = 1_048_576;
/** An over-long line is reported with only its first bytes (at most this many), so a reject never holds a megabyte. */
const TOO_LONG_SAMPLE_BYTES = 256;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export function encodeLegacyAuthLine(token: string): string {
  return `AUTH:${token}\n`;
}

export function encodeLegacyDataLine(tokens: readonly string[]): string {
  return `DATA:${tokens.join('|')}\n`;
}

/** `DATA:` with nothing after it has no tokens; an empty token between bars is kept (and will be refused). */
export function parseLegacyLine(line: string): LegacyLine {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.startsWith('AUTH:')) return { kind: 'auth', token: text.slice(5) };
  if (text.startsWith('DATA:')) return { kind: 'data', tokens: text.length === 5 ? [] : text.slice(5).split('|') };
  return { kind: 'unknown', text };
}

export class LineSplitter {
  readonly #maxLineBytes: number;
  /**
   * The current unterminated line, copied into an owned, reused store that grows by doubling up to
   * maxLineBytes. Lines leave it only as strings or copied samples, so reusing it is safe.
   */
  #store: Buffer = Buffer.alloc(0);
  #pending = 0;
  /** True while skipping the rest of an over-long line up to its newline. */
  #skipping = false;

  constructor(options: LineSplitterOptions = {}) {
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxLineBytes must be a positive integer');
    this.#maxLineBytes = max;
  }

  /** Bytes buffered of the current unterminated line (0 while skipping an over-long line). */
  get pendingBytes(): number {
    return this.#pending;
  }

  push(chunk: Buffer): LineItem[] {
    return this.#push(chunk, lineItem);
  }

  /**
   * push, with each line as bytes instead of text: for lines that should never become one JavaScript
   * string (a ~175 KB DATA line as a string lands in V8's large-object space, which costs more than the
   * rest of its handling). Same lines, same rejects, same chunking independence.
   */
  pushBytes(chunk: Buffer): ByteLineItem[] {
    return this.#push(chunk, byteLineItem);
  }

  #push<T>(chunk: Buffer, item: (bytes: Buffer) => T): Array<T | (Rejection & { raw: Buffer })> {
    const items: Array<T | (Rejection & { raw: Buffer })> = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#skipping) {
        if (newline !== -1) this.#skipping = false;
      } else if (this.#pending + (end - start) > this.#maxLineBytes) {
        items.push(this.#tooLong(chunk.subarray(start, end)));
        this.#skipping = newline === -1;
      } else if (newline === -1) {
        this.#keep(chunk.subarray(start));
      } else if (this.#pending === 0) {
        items.push(item(chunk.subarray(start, end)));
      } else {
        this.#keep(chunk.subarray(start, end));
        items.push(item(this.#store.subarray(0, this.#pending)));
        this.#pending = 0;
      }
      if (newline === -1) break;
      start = newline + 1;
    }
    return items;
  }

  /** A final line without a newline is still a line (e.g. a client that half-closes after writing). */
  end(): LineItem[] {
    return this.#end(lineItem);
  }

  /** end, as bytes (see pushBytes). */
  endBytes(): ByteLineItem[] {
    return this.#end(byteLineItem);
  }

  #end<T>(item: (bytes: Buffer) => T): T[] {
    const pending = this.#pending;
    this.#skipping = false;
    this.#pending = 0;
    return pending === 0 ? [] : [item(this.#store.subarray(0, pending))];
  }

  #keep(bytes: Buffer): void {
    const needed = this.#pending + bytes.length;
    if (needed > this.#store.length) {
      let capacity = Math.max(this.#store.length * 2, 4096);
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(Math.min(capacity, this.#maxLineBytes));
      this.#store.copy(grown, 0, 0, this.#pending);
      this.#store = grown;
    }
    this.#pending += bytes.copy(this.#store, this.#pending);
  }

  #tooLong(tail: Buffer): Rejection & { raw: Buffer } {
    // Only the first maxLineBytes+1 bytes are certain to have been seen, whatever the chunking, so the
    // sample never goes past them: the same input gives the same reject however it was split.
    const raw = Buffer.allocUnsafe(Math.min(TOO_LONG_SAMPLE_BYTES, this.#maxLineBytes + 1));
    const fromStore = this.#store.copy(raw, 0, 0, Math.min(this.#pending, raw.length));
    tail.copy(raw, fromStore, 0, raw.length - fromStore);
    this.#pending = 0;
    return { ...reject('legacy_line_too_long', `line exceeds ${this.#maxLineBytes} bytes`), raw };
  }
}

/** Line bytes without a trailing carriage return. */
function lineEnd(bytes: Buffer): number {
  return bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
}

function lineItem(bytes: Buffer): LineItem {
  return { ok: true, line: bytes.toString('utf8', 0, lineEnd(bytes)) };
}

/**
 * A copy, since the bytes may lie in the splitter's reused store, in memory of its own (never a slice of
 * Node's shared pool): a copy posted to a worker thread then carries just the line.
 */
function byteLineItem(bytes: Buffer): ByteLineItem {
  const end = lineEnd(bytes);
  const own = Buffer.allocUnsafeSlow(end);
  bytes.copy(own, 0, 0, end);
  return { ok: true, bytes: own };
}
