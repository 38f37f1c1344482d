// Tests for the outage back-fill: followed readings and every shown device's sparkline, from the REST API.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../src/api/api-client.js';
import { backfill, SPARKLINE_BACKFILL_DEVICES } from '../src/backfill.js';
import type { LiveReading } from '../src/contract.js';
import { LiveStore } from '../src/live-store.js';

const T0 = 1_700_000_000_000;
const live = (device: string, seq: number): LiveReading => ({
  device,
  seq,
  ts: T0 + seq * 1000,
  committedAt: T0 + seq * 1000,
  data: { temp: seq },
});

/** A fake hub: every device sent seq 1..30, one a second from T0; readings pages honour from/to. */
function fakeHub(requests: string[]): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = new URL(String(input), 'http://hub');
    requests.push(`${url.pathname}`);
    const json = (body: unknown): Response =>
      new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    if (url.pathname === '/api/v1/dead-letters') return json({ items: [], nextCursor: null });
    const match = /^\/api\/v1\/devices\/([^/]+)\/readings$/.exec(url.pathname);
    if (match === null) return new Response('{}', { status: 404 });
    const device = decodeURIComponent(match[1] ?? '');
    const from = Number(url.searchParams.get('from'));
    const to = Number(url.searchParams.get('to'));
    const items = Array.from({ length: 30 }, (_, i) => live(device, i + 1))
      .filter((reading) => reading.ts >= from && reading.ts < to)
      .map((reading) => ({ ...reading, receivedAt: reading.ts, source: 'tcp' }));
    return json({ items, nextCursor: null });
  }) as typeof fetch;
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('backfill', () => {
  it("fills the followed device's readings and every shown device's sparkline gap", async () => {
    vi.useFakeTimers({ now: T0 + 31_000, toFake: ['Date'] });
    const requests: string[] = [];
    vi.stubGlobal('fetch', fakeHub(requests));
    const store = new LiveStore(T0);
    store.follow('dev-1');
    // Live before the outage: seq 1..10; after it: 21..30. The gap is 11..20 for every device.
    for (const device of ['dev-1', 'dev-2', 'dev-3']) {
      for (const seq of [
        ...Array.from({ length: 10 }, (_, i) => i + 1),
        ...Array.from({ length: 10 }, (_, i) => i + 21),
      ]) {
        store.applyReadings({ room: 'overview', readings: [live(device, seq)], dropped: 0 }, T0);
      }
    }
    for (let seq = 21; seq <= 30; seq += 1) {
      store.applyReadings({ room: 'device:dev-1', readings: [live('dev-1', seq)], dropped: 0 }, T0);
    }
    const gapTrend = Array.from({ length: 20 }, (_, i) => (i < 10 ? i + 1 : i + 11));
    expect(store.view().devices.map((row) => row.trend)).toEqual([gapTrend, gapTrend, gapTrend]);

    const result = await backfill(
      new ApiClient('token'),
      store,
      { from: T0 + 10_500, to: T0 + 20_500 },
      new AbortController().signal,
    );
    const full = Array.from({ length: 30 }, (_, i) => i + 1);
    const view = store.view();
    expect(view.devices.map((row) => row.trend)).toEqual([full, full, full]);
    // The followed table (live only since the reconnect: 21..30) gets the gap plus the 5 s margin before it.
    expect(view.followed?.readings.map((reading) => reading.seq)).toEqual(full.slice(5).reverse());
    expect(result).toMatchObject({ device: 'dev-1', readings: 15, sparklines: 3, error: null });
    // The followed device's readings are read once and serve both its table and its sparkline.
    expect(requests.filter((path) => path === '/api/v1/devices/dev-1/readings')).toHaveLength(1);
    expect(requests.filter((path) => path.endsWith('/readings'))).toHaveLength(3);
  });

  it(`reads at most ${SPARKLINE_BACKFILL_DEVICES} other devices' sparklines, in table order`, async () => {
    vi.useFakeTimers({ now: T0 + 31_000, toFake: ['Date'] });
    const requests: string[] = [];
    vi.stubGlobal('fetch', fakeHub(requests));
    const store = new LiveStore(T0);
    for (let n = 1; n <= SPARKLINE_BACKFILL_DEVICES + 5; n += 1) {
      store.applyReadings({ room: 'overview', readings: [live(`dev-${n}`, 1)], dropped: 0 }, T0);
    }
    await backfill(new ApiClient('token'), store, { from: T0 + 1_000, to: T0 + 2_000 }, new AbortController().signal);
    const read = requests.filter((path) => path.endsWith('/readings'));
    expect(read).toHaveLength(SPARKLINE_BACKFILL_DEVICES);
    expect(read[0]).toBe('/api/v1/devices/dev-1/readings');
    expect(read).not.toContain(`/api/v1/devices/dev-${SPARKLINE_BACKFILL_DEVICES + 1}/readings`);
  });
});
