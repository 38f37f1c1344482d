/**
 * Export download tickets: POST /api/v1/exports answers a single-use URL that streams the same bytes as
 * the bearer export route, as an attachment, without a token; it works once, expires, is bound to the
 * account that asked, is refused for API keys, is bounded (oldest of an account evicted, 429 when the
 * store is full), and its URL never reaches the request log. Plus the ticket store's own bounds.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTickets } from '../../src/http/export-tickets.js';
import { REDACTED_PATHS, REDACTED } from '../../src/observability/logger.js';
import { call, ROLE_PASSWORD, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { reading } from '../store/store-fixtures.js';

const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const ROWS = 25;
const range = { from: T0, to: T0 + ROWS * 1000 };

/** Log lines the hub writes, as text, for checking that no ticket is ever in them. */
const logLines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});

let clock = Date.now();
let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite', {
    // The hub's own redaction settings, at info level so every request is logged.
    logger: pino({ level: 'info', redact: { paths: [...REDACTED_PATHS], censor: REDACTED } }, logStream),
    exportTickets: { ttlMs: 60_000, maxOutstanding: 6, maxPerOwner: 3, now: () => clock },
  });
  await api.store.commit({
    readings: [
      ...Array.from({ length: ROWS }, (_, i) =>
        reading({ device: 'tix-1', seq: i, ts: T0 + i * 1000, data: { v: i } }),
      ),
      ...Array.from({ length: 5 }, (_, i) => reading({ device: 'tix-2', seq: i, ts: T0 + i * 1000, data: { w: i } })),
    ],
    deadLetters: [],
  });
});
afterAll(async () => {
  await api?.stop();
});

async function ticketFor(token: string, body: object = { devices: ['tix-1'], ...range }): Promise<string> {
  const answer = await call(api.base, 'POST', '/api/v1/exports', { token, body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  const { url, expiresAt } = answer.body as { url: string; expiresAt: number };
  expect(url).toMatch(/^\/api\/v1\/exports\/[A-Za-z0-9_-]{43}$/);
  expect(expiresAt).toBe(clock + 60_000);
  return url;
}

describe('export tickets over the API', () => {
  it('streams the same CSV as the bearer export route, as an attachment, without a token — once', async () => {
    const url = await ticketFor(api.tokens.viewer);
    const response = await fetch(`${api.base}${url}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/csv');
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="tix-1-${range.from}-${range.to}.csv"`,
    );
    expect(response.headers.get('cache-control')).toBe('no-store');
    const viaTicket = await response.text();
    const direct = await call(
      api.base,
      'GET',
      `/api/v1/devices/tix-1/export?format=csv&from=${range.from}&to=${range.to}`,
      {
        token: api.tokens.viewer,
      },
    );
    expect(viaTicket).toBe(direct.body);
    expect(viaTicket.trimEnd().split('\n')).toHaveLength(ROWS + 1);

    const again = await call(api.base, 'GET', url);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({
      error: { code: 'not_found', message: 'no such export link (unknown, used or expired)' },
    });
  });

  it('exports several devices in the order given, as NDJSON', async () => {
    const url = await ticketFor(api.tokens.viewer, { devices: ['tix-2', 'tix-1'], ...range, format: 'ndjson' });
    const response = await fetch(`${api.base}${url}`);
    expect(response.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await response.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { device: string });
    expect(lines).toHaveLength(ROWS + 5);
    expect(lines.slice(0, 5).every((line) => line.device === 'tix-2')).toBe(true);
    expect(lines.slice(5).every((line) => line.device === 'tix-1')).toBe(true);
  });

  it('a ticket expires after its minute', async () => {
    const url = await ticketFor(api.tokens.viewer);
    clock += 60_001;
    const answer = await call(api.base, 'GET', url);
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('an unknown ticket is 404 in the standard error shape; a malformed one is validation_failed', async () => {
    const unknown = await call(api.base, 'GET', `/api/v1/exports/${'A'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: { code: 'not_found', message: 'no such export link (unknown, used or expired)' },
    });
    const malformed = await call(api.base, 'GET', '/api/v1/exports/short');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it("is bound to the account that asked: another user's token is refused and the ticket is used up", async () => {
    const url = await ticketFor(api.tokens.viewer);
    const wrong = await call(api.base, 'GET', url, { token: api.tokens.admin });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ error: { code: 'forbidden' } });
    expect((await call(api.base, 'GET', url)).status).toBe(404);
    // The owner's own token is fine.
    const own = await ticketFor(api.tokens.operator);
    expect((await call(api.base, 'GET', own, { token: api.tokens.operator })).status).toBe(200);
  });

  it('is refused when the account that asked was disabled before the download', async () => {
    const made = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { username: 'tix-leaver', role: 'viewer', password: ROLE_PASSWORD },
    });
    const id = (made.body as { user: { id: string } }).user.id;
    const token = ((await (await api.login('tix-leaver', ROLE_PASSWORD)).json()) as { token: string }).token;
    const url = await ticketFor(token);
    await call(api.base, 'PATCH', `/api/v1/users/${id}`, { token: api.tokens.admin, body: { disabled: true } });
    const answer = await call(api.base, 'GET', url);
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('is not issued to API keys, and validates its body', async () => {
    const issued = await api.registry.apiKeys.issue({ name: 'tix-probe', scopes: ['read'] });
    const byKey = await call(api.base, 'POST', '/api/v1/exports', {
      apiKey: issued.secret,
      body: { devices: ['tix-1'] },
    });
    expect(byKey.status).toBe(403);
    for (const body of [
      { devices: [] },
      { devices: ['tix-1'], format: 'xlsx' },
      { devices: ['bad id!'] },
      { device: 'tix-1' },
    ]) {
      const answer = await call(api.base, 'POST', '/api/v1/exports', { token: api.tokens.viewer, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'validation_failed' } });
    }
    const backwards = await call(api.base, 'POST', '/api/v1/exports', {
      token: api.tokens.viewer,
      body: { devices: ['tix-1'], from: range.to, to: range.from },
    });
    expect(backwards.status).toBe(400);
  });

  it('keeps at most 3 per account (the oldest is evicted) and 6 in all (then 429 rate_limited)', async () => {
    clock += 120_000; // every earlier ticket has expired and is swept
    const viewers = [];
    for (let i = 0; i < 4; i += 1) viewers.push(await ticketFor(api.tokens.viewer));
    expect((await call(api.base, 'GET', viewers[0] ?? '')).status).toBe(404);
    for (let i = 0; i < 3; i += 1) await ticketFor(api.tokens.operator);
    const full = await call(api.base, 'POST', '/api/v1/exports', {
      token: api.tokens.admin,
      body: { devices: ['tix-1'] },
    });
    expect(full.status).toBe(429);
    expect(full.body).toMatchObject({ error: { code: 'rate_limited', details: { limit: 'export-tickets', max: 6 } } });
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(api.base, 'GET', viewers[3] ?? '')).status).toBe(200);
  });

  it('never writes a ticket to the log: the path segment is redacted', async () => {
    const url = await ticketFor(api.tokens.viewer);
    const ticket = url.split('/').pop() ?? '';
    expect((await call(api.base, 'GET', url)).status).toBe(200);
    expect((await call(api.base, 'GET', `${url}/trailing`)).status).toBe(404);
    const log = logLines.join('');
    expect(log).toContain('/api/v1/exports/[redacted]');
    expect(log).not.toContain(ticket);
    for (const line of logLines) {
      const url = (JSON.parse(line) as { req?: { url?: string } }).req?.url ?? '';
      expect(url).not.toMatch(/\/api\/v1\/exports\/[A-Za-z0-9_-]{43}/);
    }
  });
});

describe('ExportTickets', () => {
  const spec = { devices: ['d'], fromMs: 0, toMs: 1, format: 'csv' as const };

  it('issues 43-character base64url tickets that are taken once and stored only as digests', async () => {
    const tickets = new ExportTickets();
    const issued = await tickets.issue('u1', spec);
    expect(issued?.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify([...(tickets as unknown as { tickets: Map<string, unknown> }).tickets])).not.toContain(
      issued?.ticket,
    );
    expect(await tickets.take(issued?.ticket ?? '')).toMatchObject({ owner: 'u1', spec });
    expect(await tickets.take(issued?.ticket ?? '')).toBeUndefined();
    expect(tickets.size).toBe(0);
  });

  it('frees the room of expired tickets before refusing', async () => {
    let now = 0;
    const tickets = new ExportTickets({ ttlMs: 10, maxOutstanding: 2, maxPerOwner: 2, now: () => now });
    await tickets.issue('a', spec);
    await tickets.issue('b', spec);
    expect(await tickets.issue('c', spec)).toBeNull();
    now = 10;
    expect(await tickets.issue('c', spec)).not.toBeNull();
    expect(tickets.size).toBe(1);
  });
});
