import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeadLetterPage, parseStats } from '../../../dashboard/src/rest-api.js';
import { call, FIXED_STATS, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { deadLetter, reading } from '../store/store-fixtures.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 21, 9, 0, 0);
let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite');
  await api.store.commit({
    readings: Array.from({ length: 30 }, (_, i) =>
      reading({ device: 'pump-1', seq: i, ts: T0 + i * 10_000, data: { temp: 20 + (i % 5) } }),
    ),
    deadLetters: [
      deadLetter({ receivedAt: T0 + 1000, reason: 'integrity_failed' }),
      // Counted under pump-1: refused after a key allowed for pump-1 sealed it (see rollupDeviceOf).
      deadLetter({ receivedAt: T0 + 2000, reason: 'timestamp_out_of_range', device: 'pump-1', source: 'legacy' }),
      deadLetter({ receivedAt: T0 + 3000, reason: 'stale_frame', raw: new Uint8Array(300).fill(0xab) }),
    ],
  });
});
afterAll(async () => {
  await api?.stop();
});

const get = (path: string): ReturnType<typeof call> => call(api.base, 'GET', path, { token: api.tokens.viewer });

describe('dashboard contract (shapes kept exactly)', () => {
  it('stats answers every LiveStats field unchanged', async () => {
    const answer = await get('/api/v1/stats');
    expect(answer.body).toEqual(FIXED_STATS);
    expect(parseStats(answer.body)).not.toBeNull();
  });

  it('dead letters keep the item shape the dashboard parses', async () => {
    const answer = await get('/api/v1/dead-letters?limit=50');
    const items = parseDeadLetterPage(answer.body);
    expect(items).toHaveLength(3);
    expect(items?.[0]).toMatchObject({ reason: 'stale_frame', truncated: true, device: null });
    expect(items?.[0]?.rawHex).toHaveLength(512);
    expect(Object.keys(items?.[0] ?? {}).sort()).toEqual(
      [
        'detail',
        'device',
        'id',
        'peer',
        'rawHex',
        'reason',
        'receivedAt',
        'redriveOutcome',
        'redrivenAt',
        'source',
        'truncated',
      ].sort(),
    );
  });
});

describe('query routes', () => {
  it('pages a device time range with cursors until nextCursor is null', async () => {
    const seqs: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path = `/api/v1/devices/pump-1/readings?from=${T0}&to=${new Date(T0 + 10 * MINUTE).toISOString()}&limit=7${
        cursor === null ? '' : `&cursor=${cursor}`
      }`;
      const answer = await get(path);
      expect(answer.status).toBe(200);
      const body = answer.body as { items: Array<{ seq: number }>; nextCursor: string | null };
      seqs.push(...body.items.map((r) => r.seq));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 20);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(pages).toBe(5);
  });

  it('answers a forged cursor or a reversed range as client errors', async () => {
    const forged = await get(
      `/api/v1/devices/pump-1/readings?from=${T0}&cursor=${Buffer.from('{"x":1}').toString('base64url')}`,
    );
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ error: { code: 'bad_request' } });
    const reversed = await get(`/api/v1/devices/pump-1/readings?from=${T0 + 1000}&to=${T0}`);
    expect(reversed.body).toMatchObject({ error: { code: 'validation_failed' } });
    const badTime = await get('/api/v1/devices/pump-1/readings?from=yesterday');
    expect(badTime.body).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('serves 1m and 1h series, and refuses a range with too many buckets', async () => {
    const minute = await get(`/api/v1/devices/pump-1/series?width=1m&from=${T0}&to=${T0 + 5 * MINUTE}&metric=temp`);
    const points = (minute.body as { items: Array<{ valid: number; metrics: { temp?: { count: number } } }> }).items;
    expect(points.map((p) => p.valid)).toEqual([6, 6, 6, 6, 6]);
    expect(points[0]?.metrics.temp?.count).toBe(6);
    const hour = await get(`/api/v1/devices/pump-1/series?width=1h&from=${T0}&to=${T0 + 3_600_000}`);
    expect((hour.body as { items: Array<{ valid: number }> }).items[0]?.valid).toBe(30);
    const huge = await get(`/api/v1/devices/pump-1/series?width=1m&from=0&to=${T0}`);
    expect(huge.status).toBe(400);
    const badWidth = await get('/api/v1/devices/pump-1/series?width=2m');
    expect(badWidth.body).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('serves the per-minute documents of the seed', async () => {
    const answer = await get(`/api/v1/devices/pump-1/minutes?from=${T0}&to=${T0 + 2 * MINUTE}`);
    const docs = (answer.body as { items: Array<Record<string, unknown>> }).items;
    expect(docs).toHaveLength(2);
    expect(docs[0]).toMatchObject({ minute: T0, totalReceived: 7, totalValid: 6, totalInvalid: 1 });
    expect((docs[0]?.['records'] as unknown[]).length).toBe(6);
  });

  it('lists devices with last-seen, and filters dead letters by reason, device, source and time', async () => {
    const devices = await get('/api/v1/devices');
    expect((devices.body as { items: Array<{ device: string; lastSeen: number }> }).items).toEqual([
      expect.objectContaining({
        device: 'pump-1',
        lastSeen: T0 + 4 * MINUTE,
        lastReadingAt: T0 + 290_000,
        totalValid: 30,
        totalInvalid: 1,
      }),
    ]);
    const stale = await get('/api/v1/dead-letters?reason=stale_frame');
    expect((stale.body as { items: unknown[] }).items).toHaveLength(1);
    const mine = await get('/api/v1/dead-letters?device=pump-1&source=legacy');
    expect((mine.body as { items: unknown[] }).items).toHaveLength(1);
    const timed = await get(`/api/v1/dead-letters?from=${T0 + 1500}&to=${T0 + 2500}`);
    expect((timed.body as { items: unknown[] }).items).toHaveLength(1);
    const first = await get('/api/v1/dead-letters?limit=2');
    const next = (first.body as { nextCursor: string }).nextCursor;
    const second = await get(`/api/v1/dead-letters?limit=2&cursor=${next}`);
    expect((second.body as { items: Array<{ reason: string }>; nextCursor: null }).items).toHaveLength(1);
    expect((second.body as { nextCursor: null }).nextCursor).toBeNull();
    const unknownReason = await get('/api/v1/dead-letters?reason=made_up');
    expect(unknownReason.status).toBe(400);
  });
  // Last: it adds a device the listing above does not expect.
  it('answers null for a sum that is not a finite number, and keeps a metric called __proto__', async () => {
    const t = T0 + 10 * MINUTE;
    // Two commits (two journal rows): -∞ and +∞ sums of one minute meet as NaN in the fold.
    await api.store.commit({
      readings: [1, 2].map((seq) => reading({ device: 'edge-1', seq, ts: t + seq, data: { v: -1e308 } })),
      deadLetters: [],
    });
    await api.store.commit({
      readings: [3, 4].map((seq) => reading({ device: 'edge-1', seq, ts: t + seq, data: { v: 1e308 } })),
      deadLetters: [],
    });
    await api.store.commit({
      readings: [reading({ device: 'edge-1', seq: 5, ts: t + 5, data: JSON.parse('{"__proto__": 7, "w": 1}') })],
      deadLetters: [],
    });
    const answer = await get(`/api/v1/devices/edge-1/series?width=1m&from=${t}&to=${t + MINUTE}`);
    expect(answer.status).toBe(200);
    const [point] = (answer.body as { items: Array<{ valid: number; metrics: Record<string, unknown> }> }).items;
    expect(point?.valid).toBe(5);
    expect(point?.metrics['v']).toEqual({ min: -1e308, max: 1e308, sum: null, count: 4, avg: null });
    expect(Object.keys(point?.metrics ?? {}).sort()).toEqual(['__proto__', 'v', 'w']);
    expect(Object.getOwnPropertyDescriptor(point?.metrics, '__proto__')?.value).toEqual({
      min: 7,
      max: 7,
      sum: 7,
      count: 1,
      avg: 7,
    });
  });
});
