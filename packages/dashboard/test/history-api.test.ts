// Tests for the export download link answer check: only a same-origin export path is ever followed.
import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../src/api/api-client.js';
import { fetchSeries, MAX_SERIES_METRICS, parseExportLink } from '../src/api/history-api.js';

describe('parseExportLink', () => {
  const url = `/api/v1/exports/${'a'.repeat(43)}`;
  it('accepts the hub answer', () => {
    expect(parseExportLink({ url, expiresAt: 5 })).toEqual({ url, expiresAt: 5 });
  });
  it('refuses anything that is not a path of an export link on this hub', () => {
    for (const bad of [
      'https://elsewhere.example/api/v1/exports/x',
      '//evil/api/v1/exports/x',
      'javascript:alert(1)',
      '/api/v1/devices',
    ]) {
      expect(parseExportLink({ url: bad, expiresAt: 5 })).toBeNull();
    }
    expect(parseExportLink({ url })).toBeNull();
    expect(parseExportLink(null)).toBeNull();
  });
});

describe('fetchSeries asks only for the metrics it draws', () => {
  const urls: string[] = [];
  const api = {
    getJson: (path: string) => {
      urls.push(path);
      return Promise.resolve({ ok: true, value: [] });
    },
  } as unknown as ApiClient;
  const range = { from: 1_000, to: 61_000 };
  const signal = new AbortController().signal;

  it('names one metric as `metric`, several as `metrics`, and none as a one-metric page', async () => {
    urls.length = 0;
    await fetchSeries(api, 'pump 1', range, '1m', ['temp'], signal);
    await fetchSeries(api, 'pump-1', range, '1m', ['a', 'b'], signal);
    await fetchSeries(api, 'pump-1', range, '1m', [], signal);
    const params = urls.map((url) => new URL(url, 'http://hub').searchParams);
    expect(urls[0]).toMatch(/^\/api\/v1\/devices\/pump%201\/series\?/);
    expect(params[0]?.get('metric')).toBe('temp');
    expect(params[1]?.get('metrics')).toBe('a,b');
    expect(params[2]?.get('metricLimit')).toBe('1');
    for (const p of params) expect(p.get('width')).toBe('1m');
  });

  it('never names more metrics than the API answers', async () => {
    urls.length = 0;
    const many = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await fetchSeries(api, 'd', range, '1h', many, signal);
    const named = new URL(urls[0] ?? '', 'http://hub').searchParams.get('metrics')?.split(',') ?? [];
    expect(named).toHaveLength(MAX_SERIES_METRICS);
  });
});
