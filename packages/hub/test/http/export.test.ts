import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine, EXPORT_PAGE_ROWS } from '../../src/http/export-routes.js';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { reading } from '../store/store-fixtures.js';

const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
/** More than two export pages, so the keyset paging inside the stream is exercised. */
const ROWS = EXPORT_PAGE_ROWS * 2 + 7;
let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness('pglite');
  for (let start = 0; start < ROWS; start += 5000) {
    const count = Math.min(5000, ROWS - start);
    await api.store.commit({
      readings: Array.from({ length: count }, (_, i) =>
        reading({ device: 'exp-1', seq: start + i, ts: T0 + (start + i) * 100, data: { v: start + i, note: 'a,"b"' } }),
      ),
      deadLetters: [],
    });
  }
}, 120_000);
afterAll(async () => {
  await api?.stop();
});

const range = `from=${T0}&to=${T0 + ROWS * 100}`;

describe('streaming export', () => {
  it('streams every reading of the range as NDJSON, in order, across pages', async () => {
    const response = await fetch(`${api.base}/api/v1/devices/exp-1/export?format=ndjson&${range}`, {
      headers: { authorization: `Bearer ${api.tokens.viewer}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await response.text()).trimEnd().split('\n');
    expect(lines).toHaveLength(ROWS);
    const seqs = lines.map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs.every((seq, i) => seq === i)).toBe(true);
  });

  it('streams CSV with a header and quoted JSON, bounded by the range', async () => {
    const response = await fetch(`${api.base}/api/v1/devices/exp-1/export?format=csv&from=${T0}&to=${T0 + 1000}`, {
      headers: { authorization: `Bearer ${api.tokens.viewer}` },
    });
    expect(response.headers.get('content-type')).toContain('text/csv');
    const lines = (await response.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('device,seq,ts,received_at,source,data');
    expect(lines).toHaveLength(11);
    expect(lines[1]).toBe(
      `exp-1,0,${new Date(T0).toISOString()},${new Date(T0 + 5).toISOString()},tcp,"{""v"":0,""note"":""a,\\""b\\""""}"`,
    );
  });

  it('defuses spreadsheet formulas in CSV fields', () => {
    const line = csvLine({ device: '-x', seq: 1, ts: 0, receivedAt: 0, source: 'tcp', data: {} });
    expect(line.startsWith("'-x,")).toBe(true);
  });
});
