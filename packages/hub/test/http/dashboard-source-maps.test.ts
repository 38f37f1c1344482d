/**
 * The dashboard's source maps are never served, even when a build left them in its folder: they
 * give away the whole source. The dashboard's own files still are.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';

let api: ApiHarness;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealstream-dash-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>dash</title>');
  await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log(1);\n//# sourceMappingURL=index-abc.js.map\n');
  await writeFile(join(dir, 'assets', 'index-abc.js.map'), '{"version":3,"sources":["secret-source.tsx"]}');
  api = await startApiHarness('pglite', { dashboardDir: dir });
});
afterAll(async () => {
  await api?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the dashboard files', () => {
  it('serves the app but never a source map, however the path is spelled', async () => {
    expect((await fetch(`${api.base}/`)).status).toBe(200);
    expect((await fetch(`${api.base}/assets/index-abc.js`)).status).toBe(200);
    for (const path of ['/assets/index-abc.js.map', '/assets/index-abc.js.MAP', '/assets/index-abc.js%2Emap']) {
      const response = await fetch(`${api.base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain('secret-source');
    }
  });
});
