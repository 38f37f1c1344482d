import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';

let api: ApiHarness;
beforeAll(async () => {
  // The harness itself logs in three times (one per role) from 127.0.0.1.
  api = await startApiHarness('pglite', { rateLimits: { apiPerWindow: 5, loginPerWindow: 5, windowMs: 60_000 } });
});
afterAll(async () => {
  await api?.stop();
});

describe('rate limits', () => {
  it('the user limit is per account: the sixth call is 429 with the limit named, others unaffected', async () => {
    for (let i = 0; i < 5; i += 1) {
      expect((await call(api.base, 'GET', '/api/v1/stats', { token: api.tokens.viewer })).status).toBe(200);
    }
    const refused = await call(api.base, 'GET', '/api/v1/stats', { token: api.tokens.viewer });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'user', max: 5, windowMs: 60_000, remaining: 0 } },
    });
    const reset = (refused.body as { error: { details: { resetSeconds: number } } }).error.details.resetSeconds;
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('5');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(api.base, 'GET', '/api/v1/stats', { token: api.tokens.operator })).status).toBe(200);
  });

  it('the login limit is per address and names itself', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api.login('viewer-user', 'wrong password')).status);
    expect(statuses).toEqual([401, 401, 429]);
    const body = (await (await api.login('viewer-user', 'wrong password')).json()) as {
      error: { details: { limit: string } };
    };
    expect(body.error.details.limit).toBe('login');
  });

  it('health and metrics are never limited', async () => {
    for (let i = 0; i < 8; i += 1) expect((await fetch(`${api.base}/healthz`)).status).toBe(200);
  });
});
