/**
 * A short fingerprint of the built code the bench runs (hub, protocol, emitter dist folders), printed
 * with every run: the hub is being optimised in parallel, so a figure is only meaningful next to the
 * build it was measured on.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST_DIRS = ['packages/hub/dist', 'packages/protocol/dist', 'packages/emitter/dist'];

export function buildId(): { id: string; builtAt: string } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const hash = createHash('sha256');
  let newest = 0;
  for (const dir of DIST_DIRS) {
    const base = join(root, dir);
    let files: string[];
    try {
      files = (readdirSync(base, { recursive: true }) as string[]).filter((f) => f.endsWith('.js')).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const path = join(base, file);
      hash.update(file).update(readFileSync(path));
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return { id: hash.digest('hex').slice(0, 12), builtAt: new Date(newest).toISOString() };
}
