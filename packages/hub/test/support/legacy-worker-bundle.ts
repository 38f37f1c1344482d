/**
 * Worker threads run plain JavaScript, while tests run the TypeScript sources: this bundles a worker
 * entry (and the protocol sources it imports) into one temporary ES module, once per entry and process.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const bundles = new Map<string, Promise<URL>>();

/** `entry` relative to packages/hub (e.g. 'src/pipeline/legacy-open-worker.ts'). */
export function bundledWorker(entry: string): Promise<URL> {
  let bundle = bundles.get(entry);
  if (bundle === undefined) {
    bundle = bundleOnce(entry);
    bundles.set(entry, bundle);
  }
  return bundle;
}

/** The production worker (src/pipeline/legacy-open-worker.ts) as a file a Worker can start. */
export function legacyOpenWorkerUrl(): Promise<URL> {
  return bundledWorker('src/pipeline/legacy-open-worker.ts');
}

async function bundleOnce(entry: string): Promise<URL> {
  const hubRoot = fileURLToPath(new URL('../../', import.meta.url));
  const dir = join(tmpdir(), 'sealstream-test-workers');
  await mkdir(dir, { recursive: true });
  const outfile = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.mjs`);
  await build({
    entryPoints: [join(hubRoot, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    alias: { '@sealstream/protocol': join(hubRoot, '../protocol/src/index.ts') },
  });
  return pathToFileURL(outfile);
}
