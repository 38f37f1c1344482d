/**
 * The rollup journal's text: merging the journal rows of several commits must give exactly what folding
 * all their readings and dead letters at once gives (same deltas, same order), non-finite sums must
 * survive the trip through JSON, and a row this code did not write must be refused, not half-applied.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, VerifiedReading } from '../../src/pipeline/ports.js';
import { encodeJournalRow, encodeJournalRows, mergeJournalRows } from '../../src/store/journal-codec.js';
import { foldMinutes } from '../../src/store/minute-fold.js';

const BASE = Date.UTC(2026, 10, 23, 10, 0, 0);

// Integer metric values: their sums are exact in any order, so "merge of parts" can equal "fold of all".
const readingArb = fc.record({
  device: fc.constantFrom('a', 'b', 'c-1', 'd:2'),
  seq: fc.nat(),
  ts: fc.integer({ min: BASE - 120_000, max: BASE + 300_000 }),
  data: fc.record(
    {
      temperature: fc.integer({ min: -1000, max: 1000 }),
      humidity: fc.integer({ min: 0, max: 100 }),
      label: fc.constant('text'),
    },
    { requiredKeys: [] },
  ),
  source: fc.constant('tcp' as const),
  receivedAt: fc.constant(BASE),
}) as fc.Arbitrary<VerifiedReading>;

const deadLetterArb = fc.record({
  reason: fc.constantFrom('integrity_failed' as const, 'replayed_frame' as const, 'schema_invalid' as const),
  source: fc.constant('tcp' as const),
  peer: fc.constant('127.0.0.1:1'),
  device: fc.option(fc.constantFrom('a', 'b'), { nil: null }),
  detail: fc.constant('x'),
  raw: fc.constant(new Uint8Array(0)),
  truncated: fc.constant(false),
  receivedAt: fc.integer({ min: BASE, max: BASE + 180_000 }),
}) as fc.Arbitrary<DeadLetter>;

const commitArb = fc.record({
  readings: fc.array(readingArb, { maxLength: 40 }),
  deadLetters: fc.array(deadLetterArb, { maxLength: 5 }),
});

describe('rollup journal rows', () => {
  it('merging the rows of several commits equals folding all of them at once', () => {
    fc.assert(
      fc.property(fc.array(commitArb, { minLength: 1, maxLength: 6 }), (commits) => {
        const rows = commits.map((c) => encodeJournalRow(foldMinutes(c.readings, c.deadLetters)));
        const all = foldMinutes(
          commits.flatMap((c) => c.readings),
          commits.flatMap((c) => c.deadLetters),
        );
        expect(mergeJournalRows(rows)).toEqual(all);
      }),
      { numRuns: 300 },
    );
  });

  it('splits a large commit into rows of at most maxEntries entries that merge to the same deltas', () => {
    fc.assert(
      fc.property(commitArb, fc.integer({ min: 1, max: 12 }), (commit, maxEntries) => {
        const deltas = foldMinutes(commit.readings, commit.deadLetters);
        const entries = deltas.buckets.length + deltas.metrics.length + deltas.rejects.length;
        const rows = encodeJournalRows(deltas, maxEntries);
        expect(rows).toHaveLength(Math.max(1, Math.ceil(entries / maxEntries)));
        for (const row of rows) {
          const parsed = JSON.parse(row) as { b: unknown[]; m: unknown[]; r: unknown[] };
          expect(parsed.b.length + parsed.m.length + parsed.r.length).toBeLessThanOrEqual(maxEntries);
        }
        expect(mergeJournalRows(rows)).toEqual(mergeJournalRows([encodeJournalRow(deltas)]));
      }),
      { numRuns: 300 },
    );
  });

  it('carries sums that overflowed a double, and NaN, through JSON', () => {
    const readings: VerifiedReading[] = [1, 2].map((seq) => ({
      device: 'big',
      seq,
      ts: BASE,
      data: { up: 1.7e308, down: -1.7e308 },
      source: 'tcp',
      receivedAt: BASE,
    }));
    const row = encodeJournalRow(foldMinutes(readings, []));
    const merged = mergeJournalRows([row, row]);
    expect(merged.metrics.map((m) => [m.metric, m.sum, m.count])).toEqual([
      ['down', -Infinity, 4],
      ['up', Infinity, 4],
    ]);
    const nan = mergeJournalRows([row.replace('"Infinity"', '"NaN"')]);
    expect(nan.metrics.find((m) => m.metric === 'up')?.sum).toBeNaN();
  });

  it.each([
    ['not JSON', '{"b":'],
    ['an array', '[]'],
    ['a missing part', '{"b":[],"m":[]}'],
    ['a short entry', '{"b":[["a",0,1]],"m":[],"r":[]}'],
    ['a fractional count', '{"b":[["a",0,1.5,0]],"m":[],"r":[]}'],
    ['a number as device', '{"b":[[7,0,1,0]],"m":[],"r":[]}'],
    ['a bad float', '{"b":[],"m":[["a",0,"t","1",2,3,1]],"r":[]}'],
  ])('refuses a row with %s', (_what, row) => {
    expect(() => mergeJournalRows([row])).toThrow(/rollup journal row is malformed/);
  });
});
