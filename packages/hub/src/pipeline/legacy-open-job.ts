/**
 * One legacy line's opening as a job that can run on any thread: the pure, stateless part of
 * LegacyOpener (split, decrypt, integrity check, plaintext reading, the storable-text check, and the
 * strict COPY rows of what opened). Whatever depends on order or state (the IV replay window) stays with
 * LegacyOpener on the main thread.
 *
 * The same function runs in a worker of the LegacyOpenPool and inline (no pool, the pool's queue full,
 * a worker lost), so a line opens identically wherever it runs.
 *
 * Between threads a line travels as bytes and comes back as typed arrays (transferred, not copied) plus
 * one string of fields: a 175 KB line as a string, its 499 token strings, their structured clone and the
 * per-reading formatting of COPY rows cost the event loop more than the opening itself did.
 */
import {
  isStorableText,
  openLegacyLine,
  type LegacyHashVariant,
  type LegacyMessage,
  type ReasonCode,
  type Rejection,
} from '@sealstream/protocol';
import { isExactMs, LegacyCopyRows } from './copy-rows.js';

export interface LegacyOpenJob {
  /** The line's bytes after `DATA:`; tokens are separated by `|` (a copy crosses to a worker). */
  readonly line: Uint8Array;
  /** The 32-byte legacy key (a copy crosses to the worker; it stays in this process). */
  readonly key: Uint8Array;
  readonly accept: readonly LegacyHashVariant[];
  /** Device and receive time of the line's readings: their COPY rows carry them. */
  readonly device: string;
  readonly receivedAt: number;
}

/** A token as opened: its message, or why it was refused. */
export type OpenedLegacyToken = { readonly ok: true; readonly message: LegacyMessage } | Rejection;

/** A line as opened; every typed array has its own memory and is transferred between threads. */
export interface LegacyOpenAnswer {
  /** name, origin, destination of every opened token, concatenated. */
  readonly fields: string;
  /** For token i, its three fields end at ends[3i], ends[3i+1], ends[3i+2] (a refused token adds none). */
  readonly ends: Uint32Array;
  /** 1 where the token opened (and its text is storable), 0 where it was refused. */
  readonly opened: Uint8Array;
  /** reason and detail of each refused token, in token order. */
  readonly refusals: ReadonlyArray<readonly [ReasonCode, string]>;
  /** The IV of each token that opened, as four big-endian words at 4·i. */
  readonly ivWords: Uint32Array;
  /** Token i is bytes [i === 0 ? 0 : tokenEnds[i - 1] + 1, tokenEnds[i]) of the line. */
  readonly tokenEnds: Uint32Array;
  /**
   * The strict COPY rows (copy-rows.ts) of the opened tokens, in token order, with seq from the IV
   * (seqFromIvWords); null when the receive time cannot be written that way (not a whole ms in range).
   */
  readonly rows: Uint8Array | null;
  /** Token i's row ends at rowEnds[i] (a refused token's row is empty). */
  readonly rowEnds: Uint32Array;
}

const UNSTORABLE_DETAIL = 'name, origin or destination contains a NUL character or an unpaired surrogate';

export function runLegacyOpenJob(job: LegacyOpenJob): LegacyOpenAnswer {
  const key = Buffer.isBuffer(job.key) ? job.key : Buffer.from(job.key.buffer, job.key.byteOffset, job.key.byteLength);
  const { results, tokenEnds, ivWords, messageJson, messageJsonEnds } = openLegacyLine(job.line, key, job.accept);
  const count = results.length;
  const ends = new Uint32Array(3 * count);
  const opened = new Uint8Array(count);
  const rowEnds = new Uint32Array(count);
  const refusals: Array<readonly [ReasonCode, string]> = [];
  const rows = isExactMs(job.receivedAt) ? new LegacyCopyRows(job.device, job.receivedAt) : undefined;
  let fields = '';
  for (let i = 0; i < count; i += 1) {
    const result = results[i];
    if (result === undefined) continue;
    if (result.ok) {
      const { name, origin, destination } = result.message;
      // The seed's fields are free text and JSON escapes reach them (\u0000, \ud800): PostgreSQL cannot
      // store those, and one such reading failed its whole batch's commit. Refused alone, like a native
      // reading. A plain plaintext (decoded from UTF-8, no escapes) cannot hold either.
      if (result.plain || (isStorableText(name) && isStorableText(origin) && isStorableText(destination))) {
        fields += name;
        ends[3 * i] = fields.length;
        fields += origin;
        ends[3 * i + 1] = fields.length;
        fields += destination;
        ends[3 * i + 2] = fields.length;
        opened[i] = 1;
        rows?.add(
          seqFromIvWords(ivWords[4 * i] as number, ivWords[4 * i + 1] as number),
          messageJson,
          i === 0 ? 0 : (messageJsonEnds[i - 1] as number),
          messageJsonEnds[i] as number,
          result.plain,
        );
        rowEnds[i] = rows?.length ?? 0;
        continue;
      }
      refusals.push(['unstorable_text', UNSTORABLE_DETAIL]);
    } else {
      refusals.push([result.reason, result.detail]);
    }
    const end = fields.length;
    ends[3 * i] = end;
    ends[3 * i + 1] = end;
    ends[3 * i + 2] = end;
    rowEnds[i] = rows?.length ?? 0;
  }
  return { fields, ends, opened, refusals, ivWords, tokenEnds, rows: rows?.take() ?? null, rowEnds };
}

/** The answer's arrays, to transfer with it. */
export function answerTransferList(answer: LegacyOpenAnswer): ArrayBuffer[] {
  const list = [answer.ends, answer.opened, answer.ivWords, answer.tokenEnds, answer.rowEnds].map(
    (array) => array.buffer as ArrayBuffer,
  );
  if (answer.rows !== null) list.push(answer.rows.buffer as ArrayBuffer);
  return list;
}

/** Token i's result as objects (what openLegacyToken would say of it, after the storable check). */
export function answerResults(answer: LegacyOpenAnswer): OpenedLegacyToken[] {
  const { fields, ends, opened } = answer;
  const results = new Array<OpenedLegacyToken>(opened.length);
  let refusal = 0;
  let start = 0;
  for (let i = 0; i < opened.length; i += 1) {
    if (opened[i] === 1) {
      const nameEnd = ends[3 * i] as number;
      const originEnd = ends[3 * i + 1] as number;
      const end = ends[3 * i + 2] as number;
      results[i] = {
        ok: true,
        message: {
          name: fields.slice(start, nameEnd),
          origin: fields.slice(nameEnd, originEnd),
          destination: fields.slice(originEnd, end),
        },
      };
      start = end;
    } else {
      const [reason, detail] = answer.refusals[refusal] as readonly [ReasonCode, string];
      refusal += 1;
      results[i] = { ok: false, reason, detail };
    }
  }
  return results;
}

/**
 * Tokens as one line's bytes. Token strings are byte strings (one character per byte, as the hub makes
 * them from lines and dead letters), so latin1 gives back their bytes; a token holds no `|` (it was cut
 * at one), or it would count as two here.
 */
export function legacyLineOf(tokens: readonly string[]): Buffer {
  return Buffer.from(tokens.join('|'), 'latin1');
}

/** First 53 bits of an IV given as big-endian words: all 32 bits of the first, the top 21 of the second. */
export function seqFromIvWords(w0: number, w1: number): number {
  return w0 * 2 ** 21 + (w1 >>> 11);
}
