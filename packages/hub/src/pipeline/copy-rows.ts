/**
 * The strict COPY row of a reading (`readings (device_id, seq, ts, received_at, source, data)` in COPY
 * text format), defined once for the two places that write it: the store, for the readings a commit is
 * given, and the legacy opener, which writes a line's rows as bytes where the line is opened (a worker
 * thread), so the event loop only hands bytes on instead of formatting ~100K rows a second.
 *
 * Rows are written only for times that are whole milliseconds in [0, MAX_EXACT_MS]: there the ISO text
 * names the same instant as to_timestamp(ms / 1000.0) does (see MAX_EXACT_MS).
 */
import type { VerifiedReading } from './ports.js';

/** Columns of the strict COPY, in the order of a row's fields. */
export const READING_COLUMNS = ['device_id', 'seq', 'ts', 'received_at', 'source', 'data'] as const;

/**
 * Largest ms time the strict COPY writes as ISO text. Below it, to_timestamp(ms / 1000.0) — what the
 * lenient path and older builds wrote — is exact to the microsecond, so both paths produce the same
 * key for the same reading (checked over millions of values up to 2^42 ms; differences start near
 * 8.6e12 ms, year 2242). Readings outside [0, this] take the lenient path.
 */
export const MAX_EXACT_MS = 4_000_000_000_000;

export function isExactMs(ms: number): boolean {
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_EXACT_MS;
}

/**
 * ISO-8601 UTC text of a whole-millisecond time, e.g. 2026-11-23T10:38:45.123Z. Readings of one batch
 * share a few seconds, so the `YYYY-MM-DDTHH:MM:SS.` prefix is cached per second (two slots: device
 * times and receive times alternate); Date#toISOString per row costs several times more.
 */
export class IsoMillis {
  private seconds = [Number.NaN, Number.NaN];
  private prefixes = ['', ''];
  private next = 0;

  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    const rest = ms - second * 1000;
    const tail = rest < 10 ? `00${rest}Z` : rest < 100 ? `0${rest}Z` : `${rest}Z`;
    if (this.seconds[0] === second) return (this.prefixes[0] as string) + tail;
    if (this.seconds[1] === second) return (this.prefixes[1] as string) + tail;
    const prefix = new Date(second * 1000).toISOString().slice(0, 20);
    this.seconds[this.next] = second;
    this.prefixes[this.next] = prefix;
    this.next = 1 - this.next;
    return prefix + tail;
  }
}

/** COPY text of one jsonb value: JSON has no raw tabs or newlines, so only backslashes need doubling. */
export function copyJson(data: unknown): string {
  const json = JSON.stringify(data);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/** One reading's strict COPY row, newline included. Device ids and sources need no escaping. */
export function readingCopyRow(r: VerifiedReading, iso: IsoMillis): string {
  return `${r.device}\t${r.seq}\t${iso.format(r.ts)}\t${iso.format(r.receivedAt)}\t${r.source}\t${copyJson(r.data)}\n`;
}

/** Reused by every LegacyCopyRows: a line's rows are written and taken out synchronously. */
let scratch: Buffer = Buffer.allocUnsafeSlow(256 * 1024);

/**
 * The rows of one legacy line's readings as UTF-8 bytes, all with the same device and receive time
 * (a legacy reading's ts is its receive time). Byte for byte what readingCopyRow gives for each reading,
 * written from bytes: the constant parts once per line, the seq as digits, the data as the message's
 * JSON bytes (openLegacyLine's messageJson) — no string per row.
 */
export class LegacyCopyRows {
  readonly #head: Buffer;
  readonly #tail: Buffer;
  #length = 0;

  constructor(device: string, receivedAt: number) {
    const iso = new IsoMillis();
    const time = iso.format(receivedAt);
    this.#head = Buffer.from(`${device}\t`, 'utf8');
    this.#tail = Buffer.from(`\t${time}\t${time}\tlegacy\t`, 'utf8');
    this.#length = 0;
  }

  get length(): number {
    return this.#length;
  }

  /**
   * Adds the row of the reading with this seq (a safe integer >= 0) and data JSON json[from, to).
   * `plain`: the JSON holds no escapes, so no backslash (openLegacyLine's `plain`).
   */
  add(seq: number, json: Buffer, from: number, to: number, plain: boolean): void {
    let bytes = json;
    let start = from;
    let end = to;
    if (!plain && hasBackslash(json, from, to)) {
      // COPY text: a backslash is an escape, so the JSON's own backslashes are doubled (copyJson).
      bytes = Buffer.from(json.toString('utf8', from, to).replaceAll('\\', '\\\\'), 'utf8');
      start = 0;
      end = bytes.length;
    }
    const row = this.#room(this.#head.length + MAX_SEQ_DIGITS + this.#tail.length + (end - start) + 1);
    let at = this.#length;
    row.set(this.#head, at);
    at += this.#head.length;
    at = writeDigits(row, at, seq);
    row.set(this.#tail, at);
    at += this.#tail.length;
    at += bytes.copy(row, at, start, end);
    row[at] = NEWLINE;
    this.#length = at + 1;
  }

  /**
   * The rows so far, in memory of their own (so they can be transferred between threads). Take them
   * before the next LegacyCopyRows is made: all share one scratch buffer.
   */
  take(): Uint8Array {
    const out = new Uint8Array(this.#length);
    out.set(scratch.subarray(0, this.#length));
    return out;
  }

  #room(more: number): Buffer {
    if (this.#length + more > scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#length + more, 2 * scratch.length));
      scratch.copy(grown, 0, 0, this.#length);
      scratch = grown;
    }
    return scratch;
  }
}

const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const ZERO = 0x30;
/** 2^53 has 16 digits. */
const MAX_SEQ_DIGITS = 16;

function hasBackslash(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) if (bytes[i] === BACKSLASH) return true;
  return false;
}

/**
 * Writes the decimal digits of a safe integer >= 0 (as `${n}` gives them) at `at`; returns the end. In
 * two halves below 10^8, so every step is small-integer arithmetic (on a 2^52 double, `% 10` is a call
 * to fmod).
 */
function writeDigits(out: Buffer, at: number, n: number): number {
  const high = Math.floor(n / 1e8);
  let low = n - high * 1e8;
  if (high === 0) return writeSmall(out, at, low);
  const end = writeSmall(out, at, high) + 8;
  for (let i = end - 1; i >= end - 8; i -= 1) {
    const next = (low / 10) | 0;
    out[i] = ZERO + (low - next * 10);
    low = next;
  }
  return end;
}

/** The digits of 0 <= n < 10^8, without leading zeros. */
function writeSmall(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let bound = 10; n >= bound; bound *= 10) digits += 1;
  let rest = n | 0;
  for (let i = at + digits - 1; i >= at; i -= 1) {
    const next = (rest / 10) | 0;
    out[i] = ZERO + (rest - next * 10);
    rest = next;
  }
  return at + digits;
}
