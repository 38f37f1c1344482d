/**
 * One legacy line's token opening as a job that can run on any thread: the pure, stateless part of
 * LegacyOpener (decrypt, integrity check, plaintext reading). Whatever depends on order or state (the IV
 * replay window, sequence numbers, timestamps) stays with LegacyOpener on the main thread.
 *
 * The same function runs in a worker of the LegacyOpenPool and inline (no pool, the pool's queue full,
 * a worker lost), so a line opens identically wherever it runs.
 *
 * Between threads a line travels compactly (WireJob, WireAnswer): structured clone of 499 token strings
 * result objects cost the event loop about as much as opening them did, so the answer goes as one string
 * of fields plus typed arrays that are transferred, not copied.
 */
import {
  openLegacyTokens,
  type LegacyHashVariant,
  type LegacyMessage,
  type ReasonCode,
  type Rejection,
} from '@sealstream/protocol';

export interface LegacyOpenJob {
  /** The tokens of one line. */
  readonly tokens: readonly string[];
  /** The 32-byte legacy key (a copy crosses to the worker; it stays in this process). */
  readonly key: Uint8Array;
  readonly accept: readonly LegacyHashVariant[];
}

/** A token as opened: its message, or why it was refused. */
export type OpenedLegacyToken = { readonly ok: true; readonly message: LegacyMessage } | Rejection;

export interface OpenedLegacyTokens {
  /** results[i] is what openLegacyToken(tokens[i]) gives (its message or its refusal). */
  readonly results: readonly OpenedLegacyToken[];
  /** The IV of each token that opened, as four big-endian words at 4·i (see openLegacyTokens). */
  readonly ivWords: Uint32Array;
}

export function runLegacyOpenJob(job: LegacyOpenJob): OpenedLegacyTokens {
  const key = Buffer.isBuffer(job.key) ? job.key : Buffer.from(job.key.buffer, job.key.byteOffset, job.key.byteLength);
  // Its own array per job: the answer may leave the thread (transferred), so no scratch can be shared.
  const ivWords = new Uint32Array(4 * job.tokens.length);
  const results = openLegacyTokens(job.tokens, key, job.accept, ivWords);
  return { results, ivWords };
}

/**
 * A job as posted to a worker: the tokens as they are. Measured on the main thread, cloning the token
 * array (0.26 ms for 499 tokens) costs less than joining it into one string first (0.9 ms: a 170 KB string
 * is a large-object allocation).
 */
export type WireJob = LegacyOpenJob;

/** An answer as posted back; every array is transferred. */
export interface WireAnswer {
  /** name, origin, destination of every opened token, concatenated. */
  readonly fields: string;
  /** For token i, its three fields end at ends[3i], ends[3i+1], ends[3i+2] (a refused token adds none). */
  readonly ends: Uint32Array;
  /** 1 where the token opened, 0 where it was refused. */
  readonly opened: Uint8Array;
  /** reason and detail of each refused token, in token order. */
  readonly refusals: ReadonlyArray<readonly [ReasonCode, string]>;
  readonly ivWords: Uint32Array;
}

/** The worker's side: open the line and pack the answer. */
export function runWireJob(job: WireJob): WireAnswer {
  const { results, ivWords } = runLegacyOpenJob(job);
  const ends = new Uint32Array(3 * results.length);
  const opened = new Uint8Array(results.length);
  const refusals: Array<readonly [ReasonCode, string]> = [];
  let fields = '';
  for (let i = 0; i < results.length; i += 1) {
    const result = results[i] as OpenedLegacyToken;
    if (result.ok) {
      const { name, origin, destination } = result.message;
      fields += name;
      ends[3 * i] = fields.length;
      fields += origin;
      ends[3 * i + 1] = fields.length;
      fields += destination;
      ends[3 * i + 2] = fields.length;
      opened[i] = 1;
    } else {
      const end = fields.length;
      ends[3 * i] = end;
      ends[3 * i + 1] = end;
      ends[3 * i + 2] = end;
      refusals.push([result.reason, result.detail]);
    }
  }
  return { fields, ends, opened, refusals, ivWords };
}

/** The main thread's side: unpack an answer into what runLegacyOpenJob would have returned. */
export function fromWireAnswer(answer: WireAnswer): OpenedLegacyTokens {
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
  return { results, ivWords: answer.ivWords };
}
