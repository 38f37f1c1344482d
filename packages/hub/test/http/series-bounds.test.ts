/**
 * A device with many metrics cannot turn its series into a memory bomb: an unfiltered series answer
 * carries one page of metric names (at most MAX_SERIES_METRICS, and buckets × metrics at most
 * MAX_SERIES_CELLS), the rest is paged by `metricCursor`; named metrics are answered alone, and a request
 * naming more than the bounds allow is refused `series_too_large`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERIES_METRICS, MAX_SERIES_CELLS, MAX_SERIES_METRICS } from '../../src/http/query-routes.js';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability, pgRequired } from '../support/postgres.js';
import { reading } from '../store/store-fixtures.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const NAMES = Array.from({ length: 300 }, (_, i) => `m${String(i).padStart(3, '0')}`);

interface SeriesBody {
  width: string;
  metrics: string[];
  nextMetricCursor: string | null;
  items: Array<{ valid: number; metrics: Record<string, unknown> }>;
}

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip) console.warn(`[http tests] series bounds skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`series of a device with many metrics${skip ? ' (skipped)' : ''}`, () => {
  let api: ApiHarness;
  const get = (path: string): ReturnType<typeof call> => call(api.base, 'GET', path, { token: api.tokens.viewer });

  beforeAll(async () => {
    failIfRequired(availability);
    api = await startApiHarness('postgres');
    // 10 readings of 30 fresh names each, one per minute: 300 metrics.
    await api.store.commit({
      readings: Array.from({ length: 10 }, (_, i) =>
        reading({
          device: 'wide-1',
          seq: i,
          ts: T0 + i * MINUTE,
          data: Object.fromEntries(NAMES.slice(i * 30, i * 30 + 30).map((name) => [name, i])),
        }),
      ),
      deadLetters: [],
    });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('answers one page of metrics when none are named, and pages through all of them', async () => {
    const path = `/api/v1/devices/wide-1/series?width=1m&from=${T0}&to=${T0 + 60 * MINUTE}`;
    const first = await get(path);
    expect(first.status).toBe(200);
    const body = first.body as SeriesBody;
    expect(body.metrics).toEqual(NAMES.slice(0, DEFAULT_SERIES_METRICS));
    expect(body.nextMetricCursor).not.toBeNull();
    const carried = new Set(body.items.flatMap((point) => Object.keys(point.metrics)));
    expect([...carried].every((name) => body.metrics.includes(name))).toBe(true);
    expect(body.items.map((point) => point.valid)).toEqual(Array(10).fill(1));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await get(
        `${path}&metricLimit=${MAX_SERIES_METRICS}${cursor === null ? '' : `&metricCursor=${cursor}`}`,
      );
      const page = answer.body as SeriesBody;
      expect(page.metrics.length).toBeLessThanOrEqual(MAX_SERIES_METRICS);
      seen.push(...page.metrics);
      cursor = page.nextMetricCursor;
      pages += 1;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual(NAMES);
  });

  it('fits buckets × metrics under the cell bound', async () => {
    const buckets = 10_000;
    const answer = await get(
      `/api/v1/devices/wide-1/series?width=1m&from=${T0}&to=${T0 + buckets * MINUTE}&metricLimit=${MAX_SERIES_METRICS}`,
    );
    expect(answer.status).toBe(200);
    expect((answer.body as SeriesBody).metrics).toHaveLength(Math.floor(MAX_SERIES_CELLS / buckets));
  });

  it('answers named metrics alone, and refuses more than the bounds allow with series_too_large', async () => {
    const base = `/api/v1/devices/wide-1/series?width=1m&from=${T0}&to=${T0 + 60 * MINUTE}`;
    const named = await get(`${base}&metrics=m000,m299`);
    const body = named.body as SeriesBody;
    expect(body.metrics).toEqual(['m000', 'm299']);
    expect(body.nextMetricCursor).toBeNull();
    expect(body.items.flatMap((point) => Object.keys(point.metrics)).sort()).toEqual(['m000', 'm299']);

    const tooMany = await get(`${base}&metrics=${NAMES.slice(0, MAX_SERIES_METRICS + 1).join(',')}`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({
      error: { code: 'series_too_large', details: { maxMetrics: MAX_SERIES_METRICS } },
    });
    const tooManyCells = await get(
      `/api/v1/devices/wide-1/series?width=1m&from=${T0}&to=${T0 + 10_000 * MINUTE}&metrics=${NAMES.slice(0, 10).join(',')}`,
    );
    expect(tooManyCells.status).toBe(400);
    expect(tooManyCells.body).toMatchObject({ error: { code: 'series_too_large' } });
  });

  it('lists the device metric names, paged', async () => {
    const first = await get('/api/v1/devices/wide-1/metrics?limit=250');
    const page = first.body as { items: string[]; nextCursor: string | null };
    expect(page.items).toEqual(NAMES.slice(0, 250));
    const rest = await get(`/api/v1/devices/wide-1/metrics?limit=250&cursor=${page.nextCursor ?? ''}`);
    expect(rest.body).toEqual({ items: NAMES.slice(250), nextCursor: null });
  });
});
