/**
 * One legacy line's token opening as a job that can run on any thread: the pure, stateless part of
 * LegacyOpener (decrypt, integrity check, plaintext reading). Whatever depends on order or state (the IV
 * replay window, sequence numbers, timestamps) stays with LegacyOpener on the main thread.
 *
 * The same function runs in a worker of the LegacyOpenPool and inline (no pool, the pool's queue full,
 * a worker lost), so a line opens identically wherever it runs.
 */
import { openLegacyTokens, type LegacyHashVariant, type LegacyOpenResult } from '@sealstream/protocol';

export interface LegacyOpenJob {
  readonly tokens: readonly string[];
  /** The 32-byte legacy key (a copy crosses to the worker; it stays in this process). */
  readonly key: Uint8Array;
  readonly accept: readonly LegacyHashVariant[];
}

export interface OpenedLegacyTokens {
  /** results[i] is what openLegacyToken(tokens[i]) gives. */
  readonly results: readonly LegacyOpenResult[];
  /** The IV of each token that opened, as four big-endian words at 4·i (see openLegacyTokens). */
  readonly ivWords: Uint32Array;
}

export function runLegacyOpenJob(job: LegacyOpenJob): OpenedLegacyTokens {
  const key = Buffer.isBuffer(job.key) ? job.key : Buffer.from(job.key.buffer, job.key.byteOffset, job.key.byteLength);
  // Its own array per job: the answer leaves the thread (transferred), so no scratch can be shared.
  const ivWords = new Uint32Array(4 * job.tokens.length);
  const results = openLegacyTokens(job.tokens, key, job.accept, ivWords);
  return { results, ivWords };
}
