/**
 * Browser-facing hardening on a real app: security headers on API, error and static answers, and a CORS
 * allow-list that answers listed origins only (and nothing at all when no origin is configured).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';

const ALLOWED = 'https://ops.example.com';
let withCors: ApiHarness;
let sameOrigin: ApiHarness;
beforeAll(async () => {
  [withCors, sameOrigin] = await Promise.all([
    startApiHarness('pglite', { corsOrigins: [ALLOWED] }),
    startApiHarness('pglite'),
  ]);
});
afterAll(async () => {
  await Promise.all([withCors?.stop(), sameOrigin?.stop()]);
});

const preflight = (base: string, origin: string): Promise<Response> =>
  fetch(`${base}/api/v1/devices`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  });

describe('security headers', () => {
  it('every answer, errors included, carries helmet headers with a self-only CSP', async () => {
    for (const path of ['/healthz', '/api/v1/devices', '/no-such-route']) {
      const response = await fetch(`${sameOrigin.base}${path}`);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(response.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      expect(response.headers.get('strict-transport-security'), path).toContain('max-age=');
      // A hub reached over plain HTTP by address must not tell browsers to fetch its assets over https.
      expect(response.headers.get('content-security-policy'), path).not.toContain('upgrade-insecure-requests');
    }
  });

  it('the API docs page still loads under the policy', async () => {
    const response = await fetch(`${sameOrigin.base}/docs/`, { redirect: 'follow' });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('swagger');
  });

  it('the API docs page and its assets keep to plain HTTP and allow the styles Swagger UI sets inline', async () => {
    for (const path of ['/docs/', '/docs/static/index.html', '/docs/static/swagger-ui.css']) {
      const response = await fetch(`${sameOrigin.base}${path}`, { redirect: 'follow' });
      expect(response.status, path).toBe(200);
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy, path).toContain("default-src 'self'");
      expect(policy, path).toContain("script-src 'self'");
      expect(policy, path).not.toContain('upgrade-insecure-requests');
      expect(policy, path).toMatch(/style-src [^;]*'unsafe-inline'/);
      expect(policy, path).not.toMatch(/script-src [^;]*'unsafe-inline'/);
    }
  });
});

describe('CORS allow-list', () => {
  it('answers a preflight from a listed origin, and only that origin', async () => {
    const allowed = await preflight(withCors.base, ALLOWED);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await preflight(withCors.base, 'https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${withCors.base}/healthz`, { headers: { origin: ALLOWED } });
    expect(simple.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('without configured origins no CORS header is ever sent', async () => {
    const response = await preflight(sameOrigin.base, ALLOWED);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
