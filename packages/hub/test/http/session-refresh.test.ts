/**
 * POST /api/v1/auth/refresh: a still-valid user token buys a fresh one (the login answer's shape, the
 * account's current role); an expired or forged token, a token of an account that no longer exists or
 * is disabled, and API keys are refused; and the route counts against the per-account rate limit.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, HARNESS_JWT_SECRET, startApiHarness, type ApiHarness } from '../support/api-harness.js';

const REFRESH = '/api/v1/auth/refresh';

function hs256(payload: object): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
  return `${signingInput}.${createHmac('sha256', HARNESS_JWT_SECRET).update(signingInput).digest('base64url')}`;
}

const claims = (sub: string, secondsLeft: number): object => {
  const now = Math.floor(Date.now() / 1000);
  return { sub, role: 'viewer', iat: now - 10, exp: now + secondsLeft };
};

interface TokenAnswer {
  token: string;
  tokenType: string;
  expiresIn: number;
  user: { id: string; username: string; role: string; disabled: boolean };
}

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite', { tokenTtlSeconds: 120 });
});
afterAll(async () => {
  await api?.stop();
});

async function newUser(username: string, role: 'viewer' | 'operator'): Promise<{ id: string; token: string }> {
  const password = 'a-long-enough-password';
  const made = await call(api.base, 'POST', '/api/v1/users', {
    token: api.tokens.admin,
    body: { username, role, password },
  });
  expect(made.status).toBe(201);
  const login = (await (await api.login(username, password)).json()) as TokenAnswer;
  return { id: (made.body as { user: { id: string } }).user.id, token: login.token };
}

describe('POST /api/v1/auth/refresh', () => {
  it('answers a fresh token with the login shape and a later expiry; the new token works', async () => {
    // A token issued a while ago: the refreshed one must expire later than it.
    const old = hs256(claims(api.userIds.operator, 30));
    const answer = await call(api.base, 'POST', REFRESH, { token: old });
    expect(answer.status).toBe(200);
    const body = answer.body as TokenAnswer;
    expect(body).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: 120,
      user: { id: api.userIds.operator, username: 'operator-user', role: 'operator', disabled: false },
    });
    expect(body.token).not.toBe(old);
    const payload = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as {
      sub: string;
      exp: number;
    };
    expect(payload.sub).toBe(api.userIds.operator);
    expect(payload.exp).toBeGreaterThan(Math.floor(Date.now() / 1000) + 100);
    const me = await call(api.base, 'GET', '/api/v1/auth/me', { token: body.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'operator-user', role: 'operator' });
  });

  it('carries the current role after an admin changed it', async () => {
    const user = await newUser('refresh-promoted', 'viewer');
    const patched = await call(api.base, 'PATCH', `/api/v1/users/${user.id}`, {
      token: api.tokens.admin,
      body: { role: 'operator' },
    });
    expect(patched.status).toBe(200);
    const answer = await call(api.base, 'POST', REFRESH, { token: user.token });
    expect(answer.status).toBe(200);
    const body = answer.body as TokenAnswer;
    expect(body.user.role).toBe('operator');
    const payload = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as {
      role: string;
    };
    expect(payload.role).toBe('operator');
  });

  it('refuses an expired token, a forged one, and none at all with 401 unauthorized', async () => {
    for (const token of [hs256(claims(api.userIds.viewer, -5)), `${api.tokens.viewer.slice(0, -4)}AAAA`, undefined]) {
      const answer = await call(api.base, 'POST', REFRESH, token === undefined ? {} : { token });
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('carries the sign-in time over, and refuses once the session is older than its maximum (12 h)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const young = hs256({ ...claims(api.userIds.viewer, 60), auth_time: now - 11 * 3600 });
    const renewed = await call(api.base, 'POST', REFRESH, { token: young });
    expect(renewed.status).toBe(200);
    const token = (renewed.body as TokenAnswer).token;
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      auth_time?: number;
    };
    expect(payload.auth_time).toBe(now - 11 * 3600);

    const old = hs256({ ...claims(api.userIds.viewer, 60), auth_time: now - 12 * 3600 - 5 });
    const refused = await call(api.base, 'POST', REFRESH, { token: old });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/maximum age/) },
    });
    // The old token still works until it expires; it just cannot be renewed.
    expect((await call(api.base, 'GET', '/api/v1/auth/me', { token: old })).status).toBe(200);
    // A token from before sign-in times were recorded counts from its issue time.
    const legacy = hs256({ sub: api.userIds.viewer, role: 'viewer', iat: now - 13 * 3600, exp: now + 60 });
    expect((await call(api.base, 'POST', REFRESH, { token: legacy })).status).toBe(401);
  });

  it('refuses a valid token whose account no longer exists', async () => {
    const answer = await call(api.base, 'POST', REFRESH, { token: hs256(claims('987654321', 60)) });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('refuses a valid token whose account was disabled', async () => {
    const user = await newUser('refresh-disabled', 'viewer');
    expect((await call(api.base, 'POST', REFRESH, { token: user.token })).status).toBe(200);
    const patched = await call(api.base, 'PATCH', `/api/v1/users/${user.id}`, {
      token: api.tokens.admin,
      body: { disabled: true },
    });
    expect(patched.status).toBe(200);
    const answer = await call(api.base, 'POST', REFRESH, { token: user.token });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('never accepts an API key, as bearer or X-API-Key, even a valid one with the manage scope', async () => {
    const issued = await api.registry.apiKeys.issue({ name: 'refresh-probe', scopes: ['read', 'manage'] });
    // Control: the key itself works on a route that takes API keys.
    expect((await call(api.base, 'GET', '/api/v1/stats', { apiKey: issued.secret })).status).toBe(200);
    for (const options of [{ apiKey: issued.secret }, { token: issued.secret }]) {
      const answer = await call(api.base, 'POST', REFRESH, options);
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: { code: 'forbidden' } });
      expect(JSON.stringify(answer.body)).not.toContain('"token"');
    }
  });
});

describe('POST /api/v1/auth/refresh rate limit', () => {
  let limited: ApiHarness;
  beforeAll(async () => {
    limited = await startApiHarness('pglite', {
      rateLimits: { apiPerWindow: 3, loginPerWindow: 10, windowMs: 60_000 },
    });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it('counts against the per-account user limit like every other user route', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await call(limited.base, 'POST', REFRESH, { token: limited.tokens.viewer })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await call(limited.base, 'POST', REFRESH, { token: limited.tokens.viewer });
    expect(refused.body).toMatchObject({ error: { code: 'rate_limited', details: { limit: 'user', max: 3 } } });
    // Another account's budget is its own.
    expect((await call(limited.base, 'POST', REFRESH, { token: limited.tokens.operator })).status).toBe(200);
  });
});
