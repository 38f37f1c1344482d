/**
 * A fuzzer-style pass over every operation in the app's own OpenAPI document: random path parameters,
 * query strings and JSON bodies (valid-looking and hostile) sent as an admin. Whatever arrives, the API
 * must answer without a 5xx, and every error must have the one documented shape with a catalogued code.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/http/api-errors.js';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';

const RUNS_PER_OPERATION = Number(process.env['API_FUZZ_RUNS'] ?? 12);
const METHODS = ['get', 'post', 'patch', 'put', 'delete'] as const;

let api: ApiHarness;
let operations: Array<{ method: string; path: string }> = [];
beforeAll(async () => {
  api = await startApiHarness('pglite');
  const document = (await (await fetch(`${api.base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  operations = Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method] !== undefined).map((method) => ({ method: method.toUpperCase(), path })),
  );
});
afterAll(async () => {
  await api?.stop();
});

const segment = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('1', '0', '-1', '999999999999999999999', 'demo-1', '..', '%00', 'a%2Fb', "'; DROP TABLE users;--"),
);
const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer().map(String),
  fc.constantFrom('', 'NaN', '1e308', '2026-11-23T00:00:00Z', 'csv', 'ndjson', '1h', 'true'),
);
const query = fc.dictionary(
  fc.constantFrom('limit', 'from', 'to', 'cursor', 'width', 'metric', 'format', 'reason', 'device', 'source', 'x'),
  queryValue,
  { maxKeys: 4 },
);
const body = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.record({ id: segment, name: fc.string(), scopes: fc.array(fc.string(), { maxLength: 3 }) }, { requiredKeys: [] }),
  fc.record({ username: fc.string(), password: fc.string(), role: fc.string() }, { requiredKeys: [] }),
);

describe('API fuzz pass over the OpenAPI document', () => {
  it('finds the operations to fuzz', () => {
    expect(operations.length).toBeGreaterThan(20);
  });

  it('no operation answers 5xx or an error of another shape', async () => {
    const codes = new Set(Object.keys(API_ERRORS));
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 4, maxLength: 4 }), query, body, async (segments, q, b) => {
          let index = 0;
          const path = operation.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(segments[index++] ?? 'x'));
          const search = new URLSearchParams(q).toString();
          const withBody = operation.method !== 'GET';
          const response = await fetch(`${api.base}${path}${search === '' ? '' : `?${search}`}`, {
            method: operation.method,
            headers: {
              authorization: `Bearer ${api.tokens.admin}`,
              ...(withBody ? { 'content-type': 'application/json' } : {}),
            },
            ...(withBody ? { body: JSON.stringify(b) ?? 'null' } : {}),
          });
          const text = await response.text();
          const where = `${operation.method} ${path}?${search} -> ${response.status} ${text.slice(0, 200)}`;
          expect(response.status, where).toBeLessThan(500);
          if (response.status >= 400) {
            const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
            expect(codes.has(parsed.error?.code ?? ''), where).toBe(true);
            expect(typeof parsed.error?.message, where).toBe('string');
          }
        }),
        { numRuns: RUNS_PER_OPERATION },
      );
    }
  }, 240_000);
});
