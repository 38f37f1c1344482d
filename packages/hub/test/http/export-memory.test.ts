/**
 * Export of a large range while memory is watched: 300 000 readings (about 50 MB of NDJSON) stream
 * from the real PostgreSQL server through the real app, and the heap still held (sampled after a full
 * collection) never grows by more than a fraction of what was sent. An export that collected its rows or its text before sending would
 * need at least the whole answer in memory and fail this.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';
import { reading } from '../store/store-fixtures.js';

const ROWS = 300_000;
const BATCH = 10_000;
const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const NOTE = 'x'.repeat(100);
const availability = await pgAvailability();

/**
 * A full collection before each sample, so the figure is memory still held, not garbage V8 has not
 * collected yet (peak heapUsed without it mostly measures the collector's laziness).
 */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
function retainedHeap(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}
if (!availability.available) console.warn(`[export memory] skipped: ${availability.reason}`);

describe.skipIf(!availability.available && process.env['CI'] !== 'true')('export memory (PostgreSQL)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    failIfRequired(availability);
    api = await startApiHarness('postgres');
    for (let start = 0; start < ROWS; start += BATCH) {
      await api.store.commit({
        readings: Array.from({ length: BATCH }, (_, i) =>
          reading({
            device: 'big-export',
            seq: start + i,
            ts: T0 + (start + i) * 10,
            data: { v: start + i, note: NOTE },
          }),
        ),
        deadLetters: [],
      });
    }
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
  });

  it('streams every row with a heap that stays flat', async () => {
    const baseline = retainedHeap();
    let peak = baseline;
    let samples = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, retainedHeap());
      samples += 1;
    }, 100);
    const response = await fetch(
      `${api.base}/api/v1/devices/big-export/export?format=ndjson&from=${T0}&to=${T0 + ROWS * 10}`,
      { headers: { authorization: `Bearer ${api.tokens.viewer}` } },
    );
    expect(response.status).toBe(200);
    let bytes = 0;
    let lines = 0;
    const reader = response.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      for (const byte of value) if (byte === 10) lines += 1;
    }
    clearInterval(sampler);
    const growth = peak - baseline;
    console.info(
      `[export memory] ${lines} rows, ${(bytes / 1e6).toFixed(1)} MB sent, peak retained heap growth ${(growth / 1e6).toFixed(1)} MB over ${samples} samples`,
    );
    expect(lines).toBe(ROWS);
    expect(samples).toBeGreaterThan(5);
    expect(growth).toBeLessThan(bytes / 4);
  }, 120_000);
});
