import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';

let api: ApiHarness;
let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };
beforeAll(async () => {
  api = await startApiHarness('pglite');
  doc = (await (await fetch(`${api.base}/openapi.json`)).json()) as typeof doc;
});
afterAll(async () => {
  await api?.stop();
});

/** Fastify's `/users/:id` is OpenAPI's `/users/{id}`. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\./);
  });

  it('lists every registered route (except the docs UI assets and automatic HEAD routes)', () => {
    const documented = api.routes.filter((route) => route.method !== 'HEAD' && !route.url.startsWith('/docs'));
    expect(documented.length).toBeGreaterThan(8);
    const missing = documented.filter(
      (route) => doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()] === undefined,
    );
    expect(missing).toEqual([]);
  });

  it('declares bearer auth on the protected API routes', () => {
    const stats = doc.paths['/api/v1/stats']?.['get'] as { security?: unknown } | undefined;
    expect(stats?.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
  });

  it('no documented operation answers 5xx to hostile parameters or bodies (a small fuzz pass)', async () => {
    const hostile = [
      '',
      '?limit=abc&from=zz&cursor=!!',
      '?limit=-1&to=99999999999999999999',
      '?cursor=eyJ4IjoxfQ&width=1y',
    ];
    const bodies: unknown[] = [
      undefined,
      {},
      { username: 'a'.repeat(5000) },
      { role: 'root', __proto__: { x: 1 } },
      [],
    ];
    const failures: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (path.endsWith('/export')) continue; // streams a body; covered in export.test.ts
      const url = path.replace('{device}', 'd1').replace('{id}', '1');
      for (const method of Object.keys(operations)) {
        for (const query of hostile) {
          for (const body of method === 'get' ? [undefined] : bodies) {
            const response = await fetch(`${api.base}${url}${query}`, {
              method: method.toUpperCase(),
              headers: {
                authorization: `Bearer ${api.tokens.admin}`,
                ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              },
              ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            });
            const text = await response.text();
            if (response.status >= 500) failures.push(`${method} ${url}${query} -> ${response.status} ${text}`);
            if (url.startsWith('/api/') && response.status >= 400) {
              expect(JSON.parse(text), `${method} ${url}${query}`).toHaveProperty('error.code');
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('is browsable at /docs', async () => {
    const response = await fetch(`${api.base}/docs/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('swagger');
  });
});
