/**
 * Every time the REST API answers about accounts, API keys, devices and device keys is a whole number
 * of milliseconds since the epoch, as everywhere else in the API (docs/api.md). Accounts were answered
 * with sub-millisecond fractions (their created_at came from the database clock, in microseconds).
 * Runs over a real app on PGlite, and on the PostgreSQL server when it answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';

/** Every field whose name ends in `At` anywhere inside `body`, with its path. */
function timesIn(body: unknown, path = '$'): Array<{ path: string; value: unknown }> {
  if (Array.isArray(body)) return body.flatMap((item, index) => timesIn(item, `${path}[${index}]`));
  if (typeof body !== 'object' || body === null) return [];
  return Object.entries(body).flatMap(([name, value]) => [
    ...(name.endsWith('At') ? [{ path: `${path}.${name}`, value }] : []),
    ...timesIn(value, `${path}.${name}`),
  ]);
}

/** Each time is null or whole milliseconds within a minute of now; returns how many were not null. */
function expectWholeMs(body: unknown, what: string): number {
  const times = timesIn(body);
  expect(times.length, `${what} has times`).toBeGreaterThan(0);
  let set = 0;
  for (const { path, value } of times) {
    if (value === null) continue;
    set += 1;
    expect(Number.isSafeInteger(value), `${what} ${path} = ${String(value)}`).toBe(true);
    expect(Math.abs((value as number) - Date.now()), `${what} ${path}`).toBeLessThan(60_000);
  }
  return set;
}

const postgres = await pgAvailability();
const stores = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: postgres.available ? null : postgres.reason },
] as const;

for (const { kind, skip } of stores) {
  describe.skipIf(skip !== null)(`API times are whole milliseconds on ${kind}`, () => {
    let api: ApiHarness;
    beforeAll(async () => {
      failIfRequired(postgres);
      api = await startApiHarness(kind);
    });
    afterAll(async () => {
      await api?.stop();
    });

    it('accounts: createdAt, when created, listed and changed', async () => {
      const admin = { token: api.tokens.admin };
      const created = await call(api.base, 'POST', '/api/v1/users', {
        ...admin,
        body: { username: 'ts-user', role: 'viewer' },
      });
      expect(created.status).toBe(201);
      expectWholeMs(created.body, 'POST /users');
      const id = (created.body as { user: { id: string } }).user.id;
      const patched = await call(api.base, 'PATCH', `/api/v1/users/${id}`, { ...admin, body: { disabled: true } });
      expect(patched.status).toBe(200);
      expectWholeMs(patched.body, 'PATCH /users/:id');
      const listed = await call(api.base, 'GET', '/api/v1/users', admin);
      // The harness's own accounts, made through the store at start-up, too.
      expect(expectWholeMs(listed.body, 'GET /users')).toBeGreaterThanOrEqual(4);
    });

    it('API keys: createdAt, lastUsedAt and revokedAt', async () => {
      const admin = { token: api.tokens.admin };
      const issued = await call(api.base, 'POST', '/api/v1/api-keys', {
        ...admin,
        body: { name: 'ts', scopes: ['read'] },
      });
      expect(issued.status).toBe(201);
      expectWholeMs(issued.body, 'POST /api-keys');
      const { apiKey, secret } = issued.body as { apiKey: { id: string }; secret: string };
      expect((await call(api.base, 'GET', '/api/v1/stats', { apiKey: secret })).status).toBe(200);
      const revoked = await call(api.base, 'POST', `/api/v1/api-keys/${apiKey.id}/revoke`, admin);
      expect(revoked.status).toBe(200);
      expect(expectWholeMs(revoked.body, 'POST /api-keys/:id/revoke')).toBeGreaterThanOrEqual(2);
      expectWholeMs((await call(api.base, 'GET', '/api/v1/api-keys', admin)).body, 'GET /api-keys');
    });

    it('devices and device keys: createdAt, expiresAt and revokedAt', async () => {
      const operator = { token: api.tokens.operator };
      const created = await call(api.base, 'POST', '/api/v1/devices', { ...operator, body: { id: 'ts-dev' } });
      expect(created.status).toBe(201);
      expectWholeMs(created.body, 'POST /devices');
      const rotated = await call(api.base, 'POST', '/api/v1/devices/ts-dev/keys', {
        ...operator,
        body: { overlapSeconds: 60 },
      });
      expect(rotated.status).toBe(201);
      expectWholeMs(rotated.body, 'POST /devices/:device/keys');
      const revoked = await call(api.base, 'POST', '/api/v1/devices/ts-dev/revoke', operator);
      expect(revoked.status).toBe(200);
      expectWholeMs(revoked.body, 'POST /devices/:device/revoke');
      const described = await call(api.base, 'GET', '/api/v1/devices/ts-dev', { token: api.tokens.viewer });
      // device createdAt and revokedAt, two keys' createdAt, an expiresAt, revokedAts.
      expect(expectWholeMs(described.body, 'GET /devices/:device')).toBeGreaterThanOrEqual(5);
    });
  });
}
