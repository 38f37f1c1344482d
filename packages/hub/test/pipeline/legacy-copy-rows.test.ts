/**
 * The COPY rows a legacy line's opening writes (in a worker, as bytes) against the store's own
 * formatting of the same readings: byte for byte, for any text (escapes, backslashes, non-ASCII), any
 * IV (seq up to 2^53 - 1) and any receive time; and the opener's cutting out of the rows of tokens it
 * refuses itself (replays).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { legacyKey, sealLegacyToken, type LegacyMessage } from '@sealstream/protocol';
import { LegacyCopyRows } from '../../src/pipeline/copy-rows.js';
import { Iv16ReplayWindow } from '../../src/pipeline/iv16-replay-window.js';
import { answerResults, legacyLineOf, runLegacyOpenJob, seqFromIvWords } from '../../src/pipeline/legacy-open-job.js';
import { LegacyOpener } from '../../src/pipeline/legacy-opener.js';
import type { VerifiedReading } from '../../src/pipeline/ports.js';
import { readingCopyText } from '../../src/store/commit-statements.js';

const key = legacyKey('legacy-copy-rows-test-key');
const DEVICE = 'legacy-1';

const text = fc.string({
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('a', 'Z', ' ', '|', 'é', '€', '😀', ',', ':', '}') },
    { weight: 2, arbitrary: fc.constantFrom('"', '\\', '\n', '\t', '\u0001', '\u007f', '\u0000', '\ud800') },
  ),
  maxLength: 12,
});
const message: fc.Arbitrary<LegacyMessage> = fc.record({ name: text, origin: text, destination: text });
const iv = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(Buffer.alloc(16, 0xff), Buffer.alloc(16, 0), Buffer.from('0000000005f5e0ff' + '0'.repeat(16), 'hex')),
);
const receivedAt = fc.oneof(
  fc.integer({ min: 0, max: 4_000_000_000_000 }),
  fc.constantFrom(0, 999, 1_000, 1_700_000_000_000, 4_000_000_000_000),
);

/** The readings of a job's answer, as the opener makes them. */
function readingsOf(answer: ReturnType<typeof runLegacyOpenJob>, at: number): VerifiedReading[] {
  return answerResults(answer).flatMap((result, i) =>
    result.ok
      ? [
          {
            device: DEVICE,
            seq: seqFromIvWords(answer.ivWords[4 * i] as number, answer.ivWords[4 * i + 1] as number),
            ts: at,
            receivedAt: at,
            source: 'legacy' as const,
            data: { ...result.message },
          },
        ]
      : [],
  );
}

describe('legacy COPY rows', () => {
  it('are byte for byte what the store writes for the same readings', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(message, iv, fc.boolean()), { maxLength: 8 }), receivedAt, (tokens, at) => {
        const line = legacyLineOf(
          tokens.map(([m, ivBytes, garbage]) => (garbage ? 'not-a-token' : sealLegacyToken(m, key, { iv: ivBytes }))),
        );
        const answer = runLegacyOpenJob({ line, key, accept: ['sorted'], device: DEVICE, receivedAt: at });
        const rows = Buffer.from(answer.rows ?? new Uint8Array()).toString('utf8');
        expect(rows).toBe(readingCopyText(readingsOf(answer, at)));
        // Each token's row ends where the rows so far end.
        let start = 0;
        answerResults(answer).forEach((result, i) => {
          const end = answer.rowEnds[i] as number;
          if (!result.ok) expect(end).toBe(start);
          start = end;
        });
        expect(start).toBe(answer.rows?.length ?? 0);
      }),
      { numRuns: 300 },
    );
  });

  it('write every seq as `${seq}` does, up to 2^53 - 1', () => {
    const seqs = [0, 9, 10, 99_999_999, 100_000_000, 100_000_001, 2 ** 32, 2 ** 53 - 1, 10 ** 15, 10 ** 15 - 1];
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...seqs), fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeNat()), (seq) => {
        const rows = new LegacyCopyRows(DEVICE, 0);
        rows.add(seq, Buffer.from('{}'), 0, 2, true);
        expect(Buffer.from(rows.take()).toString('latin1').split('\t')[1]).toBe(`${seq}`);
      }),
      { numRuns: 2_000 },
    );
  });

  it('are not written for a receive time the strict COPY cannot take', () => {
    const line = legacyLineOf([sealLegacyToken({ name: 'a', origin: 'b', destination: 'c' }, key)]);
    for (const at of [-1, 1.5, 4_000_000_000_001]) {
      const answer = runLegacyOpenJob({ line, key, accept: ['sorted'], device: DEVICE, receivedAt: at });
      expect(answer.rows).toBeNull();
      expect(answerResults(answer)[0]?.ok).toBe(true);
    }
  });
});

describe('LegacyOpener copy rows', () => {
  function opener(now: number): LegacyOpener {
    return new LegacyOpener({
      key,
      device: DEVICE,
      acceptVariants: ['sorted'],
      ivWindow: new Iv16ReplayWindow(3_600_000, 100_000, () => now),
      now: () => now,
    });
  }

  it('keeps the rows of exactly the readings it takes, cutting out replays', () => {
    const now = 1_700_000_000_456;
    const o = opener(now);
    const seen = sealLegacyToken({ name: 'seen', origin: 'x', destination: 'y' }, key, { iv: randomBytes(16) });
    expect(o.openLine([seen]).readings).toHaveLength(1);
    const fresh = (i: number): string => sealLegacyToken({ name: `n${i}`, origin: 'é', destination: 'q"\\' }, key);
    const outcome = o.openLine([fresh(1), seen, 'junk', fresh(2), seen, fresh(3)]);
    expect(outcome.readings.map((r) => r.data['name'])).toEqual(['n1', 'n2', 'n3']);
    expect(outcome.refused.map((r) => r.reason)).toEqual([
      'legacy_replayed_token',
      'legacy_bad_token',
      'legacy_replayed_token',
    ]);
    expect(Buffer.from(outcome.copyRows ?? new Uint8Array()).toString('utf8')).toBe(readingCopyText(outcome.readings));
    // A refused token's dead letter keeps its exact bytes.
    expect(outcome.refused.map((r) => Buffer.from(r.raw).toString('latin1'))).toEqual([seen, 'junk', seen]);
  });

  it('gives a line without replays its rows as opened', () => {
    const now = 1_700_000_000_789;
    const tokens = [0, 1, 2].map((i) => sealLegacyToken({ name: `m${i}`, origin: 'o', destination: 'd' }, key));
    const outcome = opener(now).openLine(tokens);
    expect(Buffer.from(outcome.copyRows ?? new Uint8Array()).toString('utf8')).toBe(readingCopyText(outcome.readings));
  });
});
