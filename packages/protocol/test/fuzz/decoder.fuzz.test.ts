/**
 * Mutation fuzzing of the native decoder and opener, and of the legacy token opener. Small by default
 * (part of `npm test`); FUZZ_RUNS=<n> runs n cases per property for a longer hunt, e.g.
 * `FUZZ_RUNS=50000 npx vitest run packages/protocol/test/fuzz`. A failure prints fast-check's seed and
 * path; FUZZ_SEED=<seed> replays it.
 *
 * Properties: no input makes the decoder or openers throw; every refusal carries a catalogued reason;
 * and no mutation of a sealed frame or legacy token ever opens successfully (nothing can be forged).
 */
import {
  FrameDecoder,
  legacyKey,
  openDataFrame,
  openLegacyToken,
  REASONS,
  sealLegacyToken,
  sealReadings,
  type DecodeItem,
} from '@sealstream/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEY, sampleReadings } from '../helpers.js';

const runs = Number(process.env['FUZZ_RUNS'] ?? '300');
const seed = process.env['FUZZ_SEED'] === undefined ? {} : { seed: Number(process.env['FUZZ_SEED']) };
const settings = { numRuns: runs, ...seed };
const timeoutMs = Math.max(30_000, runs * 20);
const reasonNames = new Set(Object.keys(REASONS));

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(original: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    if (m.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << m.bit);
    else if (m.kind === 'set') bytes[at] = m.value;
    else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
  }
  return bytes;
}

function decodeAll(chunks: readonly Buffer[], maxFrameBytes = 65_536): DecodeItem[] {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const items: DecodeItem[] = [];
  for (const chunk of chunks) items.push(...decoder.push(chunk));
  items.push(...decoder.end());
  return items;
}

function expectWellFormed(items: readonly DecodeItem[]): void {
  let fatalSeen = false;
  for (const item of items) {
    expect(fatalSeen).toBe(false);
    if (!item.ok) {
      expect(reasonNames.has(item.reason)).toBe(true);
      fatalSeen = item.fatal;
    }
  }
}

describe(`decoder fuzz (${runs} runs per property)`, () => {
  const sealed = [1, 2].map((suite) =>
    sealReadings(sampleReadings(3), KEY, { suite: suite as 1 | 2, keyId: 'fuzz-key', frameId: 77, sentAt: 1 }),
  );

  it(
    'no mutation of a sealed frame opens: each is refused with a catalogued reason, never thrown',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...sealed),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          fc.integer({ min: 1, max: 64 }),
          (original, mutations, chunkSize) => {
            const bytes = mutate(original, mutations);
            fc.pre(!bytes.equals(original));
            const chunks: Buffer[] = [];
            for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
            const items = decodeAll(chunks);
            expectWellFormed(items);
            for (const item of items) {
              if (!item.ok || item.frame.type !== 1) continue;
              const opened = openDataFrame(item.frame, KEY);
              // The only frame that may open is the untouched original, kept whole by a mutation elsewhere.
              if (opened.ok) expect(item.frame.raw.equals(original)).toBe(true);
              else expect(reasonNames.has(opened.reason)).toBe(true);
            }
          },
        ),
        settings,
      );
    },
    timeoutMs,
  );

  it(
    'valid frames interleaved with garbage: never throws, and valid frames before the garbage still decode',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom(...sealed), { minLength: 1, maxLength: 4 }),
          fc.uint8Array({ minLength: 1, maxLength: 400 }),
          fc.integer({ min: 1, max: 97 }),
          (frames, garbage, chunkSize) => {
            const stream = Buffer.concat([...frames, garbage]);
            const chunks: Buffer[] = [];
            for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
            const items = decodeAll(chunks);
            expectWellFormed(items);
            for (let i = 0; i < frames.length; i += 1) {
              const item = items[i];
              if (!item?.ok || item.frame.type !== 1) throw new Error(`frame ${i} did not decode`);
              expect(openDataFrame(item.frame, KEY).ok).toBe(true);
            }
          },
        ),
        settings,
      );
    },
    timeoutMs,
  );

  it(
    'no mutation of a legacy token passes its integrity check',
    () => {
      const key = legacyKey('fuzz-encryption-key');
      const token = sealLegacyToken({ name: 'Ada', origin: 'Pune', destination: 'Goa' }, key);
      const characters = fc.constantFrom(...'0123456789abcdefABCDEF:|xz '.split(''));
      const edit = fc.record({
        at: fc.nat(),
        remove: fc.integer({ min: 0, max: 3 }),
        insert: fc.string({ unit: characters, maxLength: 3 }),
      });
      fc.assert(
        fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
          let mutated = token;
          for (const e of edits) {
            const at = e.at % (mutated.length + 1);
            mutated = mutated.slice(0, at) + e.insert + mutated.slice(at + e.remove);
          }
          fc.pre(mutated !== token);
          const result = openLegacyToken(mutated, key);
          if (result.ok) {
            // Hex is case-insensitive and the IV may be re-cased; the message must be the original one.
            expect(mutated.toLowerCase()).toBe(token.toLowerCase());
          } else {
            expect(['legacy_bad_token', 'legacy_bad_json', 'legacy_integrity_failed']).toContain(result.reason);
          }
        }),
        settings,
      );
    },
    timeoutMs,
  );
});
