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

  it('calls without a valid credential count against the address limit, even though auth refuses them', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await call(api.base, 'GET', '/api/v1/auth/me')).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const refused = await call(api.base, 'GET', '/api/v1/devices');
    expect(refused.body).toMatchObject({ error: { code: 'rate_limited', details: { limit: 'address' } } });
  });

  it('random API keys from one address are refused unseen once its failure budget is spent', async () => {
    const answers: Array<{ status: number; limit?: string }> = [];
    for (let i = 0; i < 25; i += 1) {
      const fake = `ssk_${i.toString(16).padStart(12, '0')}_${'A'.repeat(43)}`;
      const answer = await call(api.base, 'GET', '/api/v1/devices', { apiKey: fake });
      const body = answer.body as { error?: { details?: { limit?: string } } };
      answers.push({
        status: answer.status,
        ...(body.error?.details?.limit ? { limit: body.error.details.limit } : {}),
      });
    }
    expect(answers.filter((a) => a.status === 401)).toHaveLength(20);
    expect(answers.slice(20)).toEqual(Array.from({ length: 5 }, () => ({ status: 429, limit: 'auth-failures' })));
  });

  it("unknown paths under /api/v1 spend the caller's limit like any API route", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push((await call(api.base, 'GET', '/api/v1/no-such-route', { token: api.tokens.admin })).status);
    }
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429]);
  });

  it('health and metrics are never limited', async () => {
    for (let i = 0; i < 8; i += 1) expect((await fetch(`${api.base}/healthz`)).status).toBe(200);
  });
});
