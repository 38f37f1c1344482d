import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/http/api-errors.js';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite', { bodyLimitBytes: 4096 });
});
afterAll(async () => {
  await api?.stop();
});

function expectErrorShape(body: unknown, code: string): { code: string; message: string; details?: unknown } {
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
  const error = (body as { error: { code: string; message: string; details?: unknown } }).error;
  expect(Object.keys(body as object)).toEqual(['error']);
  expect(Object.keys(error).every((key) => ['code', 'message', 'details'].includes(key))).toBe(true);
  return error;
}

describe('one error shape across the API', () => {
  it('unknown routes answer not_found', async () => {
    const answer = await call(api.base, 'GET', '/api/v1/no-such-thing');
    expect(answer.status).toBe(404);
    expectErrorShape(answer.body, 'not_found');
  });

  it('schema violations answer validation_failed with a detail per problem', async () => {
    const answer = await call(api.base, 'GET', '/api/v1/dead-letters?limit=0&colour=red', { token: api.tokens.viewer });
    expect(answer.status).toBe(400);
    const error = expectErrorShape(answer.body, 'validation_failed');
    expect(error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'querystring', path: expect.any(String) })]),
    );
  });

  it('a body that is not JSON answers bad_request without echoing it', async () => {
    const response = await fetch(`${api.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username": "x", "password": "hunter2-secret',
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expectErrorShape(JSON.parse(text), 'bad_request');
  });

  it('an oversized body answers payload_too_large', async () => {
    const answer = await call(api.base, 'POST', '/api/v1/auth/login', {
      body: { username: 'x', password: 'p'.repeat(10_000) },
    });
    expect(answer.status).toBe(413);
    expectErrorShape(answer.body, 'payload_too_large');
  });

  it('an unsupported content type answers unsupported_media_type', async () => {
    const response = await fetch(`${api.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-unknown' },
      body: 'abc',
    });
    expect(response.status).toBe(415);
    expectErrorShape(await response.json(), 'unsupported_media_type');
  });

  it('every answer carries the request id', async () => {
    const response = await fetch(`${api.base}/api/v1/nope`, { headers: { 'x-request-id': 'trace-me-42' } });
    expect(response.headers.get('x-request-id')).toBe('trace-me-42');
    // Text that is not an id (spaces, quotes, over 128 characters) is replaced by an id of the hub's.
    for (const sent of ['admin logged in "ok"', 'x'.repeat(129)]) {
      const forged = await fetch(`${api.base}/api/v1/nope`, { headers: { 'x-request-id': sent } });
      const id = forged.headers.get('x-request-id');
      expect(id).not.toBe(sent);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('failures of our own', () => {
  it('a store that cannot answer is 503 store_unavailable, with no driver text in the answer', async () => {
    const broken = await startApiHarness('pglite');
    try {
      await broken.store.close();
      const answer = await call(broken.base, 'GET', '/api/v1/devices', { token: broken.tokens.viewer });
      // The account lookup is the first store call, so the failure surfaces there.
      expect(answer.status).toBe(503);
      const error = expectErrorShape(answer.body, 'store_unavailable');
      expect(JSON.stringify(error)).not.toMatch(/SELECT|closed|stack|at .*\.ts/i);
    } finally {
      await broken.stop();
    }
  });
});

describe('docs/errors.md "API errors" matches the catalogue', () => {
  const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
  const section = doc.split('\n## API errors\n')[1]?.split('\n## ')[0] ?? '';
  const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => ({
    code: m[1],
    status: Number(m[2]),
    meaning: m[3],
  }));

  it('has the section', () => {
    expect(section.length).toBeGreaterThan(0);
  });

  it('lists every code with its status and description, and nothing else', () => {
    expect(rows.map((row) => row.code).sort()).toEqual(Object.keys(API_ERRORS).sort());
    for (const row of rows) {
      const entry = API_ERRORS[row.code as keyof typeof API_ERRORS];
      expect(row.status, row.code).toBe(entry.status);
      expect(row.meaning, row.code).toBe(entry.description);
    }
  });
});
