import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/store/accounts.js';
import {
  call,
  HARNESS_JWT_SECRET,
  ROLE_PASSWORD,
  ROLES_LOW_TO_HIGH,
  startApiHarness,
  type ApiHarness,
} from '../support/api-harness.js';

let api: ApiHarness;
/** Fixtures the registry and dead-letter routes act on; revoking twice is allowed, so each role can try. */
const fixture = { device: 'auth-dev', revokeKeyId: '', apiKeyId: '', deadLetterId: '' };
beforeAll(async () => {
  api = await startApiHarness('pglite');
  await api.registry.devices.register({ id: fixture.device, name: null });
  const { key } = await api.registry.devices.register({ id: 'auth-dev-revoke', name: null });
  fixture.revokeKeyId = key.keyId;
  await api.registry.devices.register({ id: 'auth-dev-gone', name: null });
  fixture.apiKeyId = (await api.registry.apiKeys.issue({ name: 'fixture', scopes: ['read'] })).apiKey.id;
  // A reading of a registered device refused for its timestamp: re-drivable, accepted once, then a duplicate.
  const reading = { device: fixture.device, seq: 1, ts: Date.now(), data: { v: 1 } };
  await api.store.commit({
    readings: [],
    deadLetters: [
      {
        reason: 'timestamp_out_of_range',
        source: 'tcp',
        peer: '127.0.0.1:1',
        device: fixture.device,
        detail: 'fixture',
        raw: Buffer.from(JSON.stringify(reading)),
        truncated: false,
        receivedAt: Date.now(),
      },
    ],
  });
  const page = await api.store.deadLetterPage({ filter: {}, limit: 1, before: null });
  fixture.deadLetterId = page.items[0]?.id ?? '';
});
afterAll(async () => {
  await api?.stop();
});

interface ProtectedRoute {
  readonly method: string;
  /** Fastify syntax, as registered. */
  readonly route: string;
  readonly minRole: Role;
  /** A request that succeeds for an allowed role. */
  readonly request: () => { path: string; body?: unknown };
  readonly okStatus: number;
}

let created = 0;
/** Every protected route and the least role it needs; the completeness test below keeps this list whole. */
const PROTECTED: readonly ProtectedRoute[] = [
  {
    method: 'GET',
    route: '/api/v1/stats',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/stats' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/stats/rates',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/stats/rates' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/dead-letters',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/dead-letters?limit=5' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device/readings',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices/d1/readings' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device/series',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices/d1/series?width=1h' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device/metrics',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices/d1/metrics' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/xray/signals',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/xray/signals' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device/minutes',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices/d1/minutes' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device/export',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/devices/d1/export?format=ndjson' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/auth/me',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/auth/me' }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/auth/refresh',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/auth/refresh' }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/exports',
    minRole: 'viewer',
    request: () => ({ path: '/api/v1/exports', body: { devices: ['d1'], format: 'ndjson' } }),
    okStatus: 201,
  },
  {
    method: 'GET',
    route: '/api/v1/users',
    minRole: 'admin',
    request: () => ({ path: '/api/v1/users' }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/users',
    minRole: 'admin',
    request: () => ({ path: '/api/v1/users', body: { username: `new-user-${(created += 1)}`, role: 'viewer' } }),
    okStatus: 201,
  },
  {
    method: 'PATCH',
    route: '/api/v1/users/:id',
    minRole: 'admin',
    request: () => ({ path: `/api/v1/users/${api.userIds.viewer}`, body: { role: 'viewer' } }),
    okStatus: 200,
  },
  {
    method: 'DELETE',
    route: '/api/v1/users/:id',
    minRole: 'admin',
    // An id no account has: an admitted caller gets past the role check to not_found; nobody is deleted.
    request: () => ({ path: '/api/v1/users/999999999' }),
    okStatus: 404,
  },
  {
    method: 'POST',
    route: '/api/v1/devices',
    minRole: 'operator',
    request: () => ({ path: '/api/v1/devices', body: { id: `auth-new-${(created += 1)}` } }),
    okStatus: 201,
  },
  {
    method: 'GET',
    route: '/api/v1/devices/:device',
    minRole: 'viewer',
    request: () => ({ path: `/api/v1/devices/${fixture.device}` }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/devices/:device/keys',
    minRole: 'operator',
    request: () => ({ path: `/api/v1/devices/${fixture.device}/keys`, body: { overlapSeconds: 60 } }),
    okStatus: 201,
  },
  {
    method: 'POST',
    route: '/api/v1/devices/:device/keys/:keyId/revoke',
    minRole: 'operator',
    request: () => ({ path: `/api/v1/devices/auth-dev-revoke/keys/${fixture.revokeKeyId}/revoke` }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/devices/:device/revoke',
    minRole: 'operator',
    request: () => ({ path: '/api/v1/devices/auth-dev-gone/revoke' }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/api-keys',
    minRole: 'admin',
    request: () => ({ path: '/api/v1/api-keys' }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/api-keys',
    minRole: 'admin',
    request: () => ({ path: '/api/v1/api-keys', body: { name: `machine-${(created += 1)}`, scopes: ['read'] } }),
    okStatus: 201,
  },
  {
    method: 'POST',
    route: '/api/v1/api-keys/:id/revoke',
    minRole: 'admin',
    request: () => ({ path: `/api/v1/api-keys/${fixture.apiKeyId}/revoke` }),
    okStatus: 200,
  },
  {
    method: 'GET',
    route: '/api/v1/dead-letters/:id/raw',
    minRole: 'viewer',
    request: () => ({ path: `/api/v1/dead-letters/${fixture.deadLetterId}/raw` }),
    okStatus: 200,
  },
  {
    method: 'POST',
    route: '/api/v1/dead-letters/:id/redrive',
    minRole: 'operator',
    request: () => ({ path: `/api/v1/dead-letters/${fixture.deadLetterId}/redrive` }),
    okStatus: 200,
  },
];
/**
 * Open to anyone at the account level: login; the ingest routes, where each request authenticates itself
 * as a device; and export downloads, where the single-use ticket in the path is the credential
 * (export-tickets.test.ts).
 */
const PUBLIC = new Set([
  'POST /api/v1/auth/login',
  'GET /api/v1/exports/:ticket',
  'POST /api/v1/ingest/frames',
  'POST /api/v1/ingest/signed',
  'POST /api/v1/ingest/readings',
]);

function hs(alg: 'HS256' | 'HS512', payload: object, secret = HARNESS_JWT_SECRET): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${part({ alg, typ: 'JWT' })}.${part(payload)}`;
  const digest = alg === 'HS256' ? 'sha256' : 'sha512';
  return `${signingInput}.${createHmac(digest, secret).update(signingInput).digest('base64url')}`;
}

describe('authorization per route and role', () => {
  it('covers every /api/v1 route the app registered', () => {
    const registered = api.routes
      .filter((route) => route.url.startsWith('/api/v1') && route.method !== 'HEAD')
      .map((route) => `${route.method} ${route.url}`)
      .filter((key) => !PUBLIC.has(key))
      .sort();
    expect(registered).toEqual(PROTECTED.map((route) => `${route.method} ${route.route}`).sort());
  });

  for (const route of PROTECTED) {
    describe(`${route.method} ${route.route} (needs ${route.minRole})`, () => {
      it('refuses a request without a token with 401 unauthorized', async () => {
        const { path, body } = route.request();
        const answer = await call(api.base, route.method, path, { body });
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
      });

      for (const role of ROLES_LOW_TO_HIGH) {
        const allowed = ROLES_LOW_TO_HIGH.indexOf(role) >= ROLES_LOW_TO_HIGH.indexOf(route.minRole);
        it(`${allowed ? 'admits' : 'forbids (403)'} a ${role}`, async () => {
          const { path, body } = route.request();
          const answer = await call(api.base, route.method, path, { token: api.tokens[role], body });
          if (allowed) {
            expect(answer.status, JSON.stringify(answer.body)).toBe(route.okStatus);
          } else {
            expect(answer.status).toBe(403);
            expect(answer.body).toMatchObject({ error: { code: 'forbidden' } });
          }
        });
      }
    });
  }
});

describe('tokens', () => {
  const claims = (): { sub: string; role: Role; iat: number; exp: number } => ({
    sub: api.userIds.admin,
    role: 'admin',
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600,
  });

  it('login answers a bearer token that works, and refuses a wrong password without saying which part was wrong', async () => {
    const good = await api.login('viewer-user', ROLE_PASSWORD);
    expect(good.status).toBe(200);
    const body = (await good.json()) as { token: string; tokenType: string; expiresIn: number };
    expect(body.tokenType).toBe('Bearer');
    expect(body.expiresIn).toBeGreaterThan(0);
    const header = JSON.parse(Buffer.from(body.token.split('.')[0] ?? '', 'base64url').toString()) as { alg: string };
    expect(header.alg).toBe('HS256');
    const wrongPassword = await api.login('viewer-user', 'not the password');
    const unknownUser = await api.login('nobody-here', ROLE_PASSWORD);
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    expect(await wrongPassword.json()).toEqual(await unknownUser.json());
  });

  it('a well-formed HS256 token with our secret is accepted (control for the refusals below)', async () => {
    expect((await call(api.base, 'GET', '/api/v1/users', { token: hs('HS256', claims()) })).status).toBe(200);
  });

  it('refuses a token signed with another secret, another algorithm, alg none, expired, or without an expiry', async () => {
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify(claims()),
    ).toString('base64url')}.`;
    const tokens = [
      hs('HS256', claims(), 'another-secret-of-sufficient-length-0123456789'),
      hs('HS512', claims()),
      none,
      hs('HS256', { ...claims(), exp: Math.floor(Date.now() / 1000) - 5 }),
      // Signed with our secret but without an expiry: it would never expire.
      hs('HS256', Object.fromEntries(Object.entries(claims()).filter(([name]) => name !== 'exp'))),
      'not-a-jwt',
    ];
    for (const token of tokens) {
      const answer = await call(api.base, 'GET', '/api/v1/users', { token });
      expect(answer.status, token).toBe(401);
    }
  });

  it('a disabled account loses access at once, and cannot log in', async () => {
    const made = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { username: 'soon-disabled', role: 'operator', password: 'a-long-enough-password' },
    });
    expect(made.status).toBe(201);
    const id = (made.body as { user: { id: string } }).user.id;
    const token = ((await (await api.login('soon-disabled', 'a-long-enough-password')).json()) as { token: string })
      .token;
    expect((await call(api.base, 'GET', '/api/v1/auth/me', { token })).status).toBe(200);
    const patched = await call(api.base, 'PATCH', `/api/v1/users/${id}`, {
      token: api.tokens.admin,
      body: { disabled: true },
    });
    expect(patched.status).toBe(200);
    expect((await call(api.base, 'GET', '/api/v1/auth/me', { token })).status).toBe(401);
    expect((await api.login('soon-disabled', 'a-long-enough-password')).status).toBe(401);
  });
});

describe('user administration', () => {
  it('a generated password is returned once and works; the list never shows hashes', async () => {
    const made = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { username: 'generated-one', role: 'viewer' },
    });
    expect(made.status).toBe(201);
    const password = (made.body as { generatedPassword?: string }).generatedPassword;
    expect(password?.length).toBeGreaterThanOrEqual(20);
    expect((await api.login('generated-one', password ?? '')).status).toBe(200);
    const list = await call(api.base, 'GET', '/api/v1/users', { token: api.tokens.admin });
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|hash/i);
    expect((list.body as { items: Array<{ username: string }> }).items.map((u) => u.username)).toContain(
      'generated-one',
    );
  });

  it('a taken username answers conflict; an unknown id not_found; self-demotion conflict', async () => {
    const duplicate = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { username: 'viewer-user', role: 'viewer' },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ error: { code: 'conflict' } });
    const unknown = await call(api.base, 'PATCH', '/api/v1/users/999999', {
      token: api.tokens.admin,
      body: { role: 'viewer' },
    });
    expect(unknown.status).toBe(404);
    const self = await call(api.base, 'PATCH', `/api/v1/users/${api.userIds.admin}`, {
      token: api.tokens.admin,
      body: { role: 'viewer' },
    });
    expect(self.status).toBe(409);
  });

  it('refuses short passwords and bad usernames as validation_failed', async () => {
    const answer = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { username: 'x', role: 'viewer', password: 'short' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'validation_failed' } });
  });
});

describe('demo mode', () => {
  let demo: ApiHarness;
  beforeAll(async () => {
    demo = await startApiHarness('pglite', { openDashboardReads: true });
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('opens only the two dashboard reads to anonymous callers', async () => {
    expect((await call(demo.base, 'GET', '/api/v1/stats')).status).toBe(200);
    expect((await call(demo.base, 'GET', '/api/v1/dead-letters')).status).toBe(200);
    expect((await call(demo.base, 'GET', '/api/v1/users')).status).toBe(401);
    expect((await call(demo.base, 'GET', '/api/v1/auth/me')).status).toBe(401);
  });
});
