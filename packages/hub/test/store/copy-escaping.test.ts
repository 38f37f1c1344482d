/**
 * Readings enter the store through COPY text format: data with backslashes, quotes, escaped control
 * characters and non-ASCII text must come back exactly as sent, on both drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlReadingStore } from '../../src/store/index.js';
import { SMALL_BATCH_ROWS } from '../../src/store/commit-statements.js';
import { pgRequired } from '../support/postgres.js';
import { freshDevice, pgliteDriver, postgresDriver, reading, type StoreDriver } from './store-fixtures.js';

const drivers: StoreDriver[] = [pgliteDriver(), await postgresDriver()];

describe.each(drivers)('COPY escaping on $name', (driver) => {
  if (driver.unavailable !== null && !pgRequired()) {
    it.skip(`skipped: ${driver.unavailable}`, () => undefined);
    return;
  }
  let store: SqlReadingStore;
  beforeAll(async () => {
    await driver.setup();
    store = await driver.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await driver.teardown();
  });

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
    const result = await store.commit({ readings: batch, deadLetters: [] });
    expect(result.inserted.every((value) => value)).toBe(true);
    const rows = await store.readings(device, base - 1, base + 10, 10);
    expect(rows.map((r) => r.data)).toEqual(awkward);
  });
});
