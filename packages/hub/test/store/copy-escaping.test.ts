/**
 * Readings enter the store through COPY text format: data with backslashes, quotes, escaped control
 * characters and non-ASCII text must come back exactly as sent, on both drivers.
 */
import { expect, it } from 'vitest';
import { SMALL_BATCH_ROWS } from '../../src/store/commit-statements.js';
import { freshDevice, reading, describeEachStore } from './store-fixtures.js';

await describeEachStore('COPY escaping', (ctx) => {
  const awkward = [
    { path: 'C:\\temp\\new', quote: 'say "hi"', tab: 'a\tb', newline: 'line1\nline2\r\n' },
    { backslashes: '\\\\\\', unicode: 'ünï 😀 \u2028 \u0001', n: -0.5, big: 1e300, nested: { a: [1, '\\N', null] } },
    { empty: '', literalBackslashN: '\\n', copyEnd: '\\.' },
  ];

  // Both insert paths: inline JSON for small batches, COPY through the staging table for large ones.
  it.each([
    ['inline (small batch)', 0],
    ['COPY (large batch)', SMALL_BATCH_ROWS + 10],
  ])('round-trips awkward JSON exactly: %s', async (_path, filler) => {
    const device = freshDevice('copy');
    const base = Date.UTC(2026, 10, 23, 12, 0, 0);
    const batch = [
      ...awkward.map((data, i) => ({ ...reading({ device, seq: i, ts: base + i }), data })),
      ...Array.from({ length: filler }, (_, i) => reading({ device: `${device}-filler`, seq: i, ts: base + i })),
    ];
    const result = await ctx.store.commit({ readings: batch, deadLetters: [] });
    expect(result.inserted.every((value) => value)).toBe(true);
    const rows = await ctx.store.readings(device, base - 1, base + 10, 10);
    expect(rows.map((r) => r.data)).toEqual(awkward);
  });
});
