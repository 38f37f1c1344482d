/**
 * bin/sealstream.js, the checkout's `sealstream` command (`npx sealstream` after `npm ci`), in a copy
 * of the repository layout: it builds once when the build is missing and then runs the CLI with the
 * same arguments, and when the build fails it says what to run. The real build is not touched.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAUNCHER } from './support/doc-commands.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A fake checkout: the launcher, and a build script that writes (or fails to write) the outputs. */
async function checkout(build: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sealstream-launcher-'));
  dirs.push(root);
  await mkdir(join(root, 'bin'));
  await copyFile(LAUNCHER, join(root, 'bin/sealstream.js'));
  await writeFile(join(root, 'build.mjs'), build);
  await writeFile(
    join(root, 'package.json'),
    JSON.stringify({ name: 'fake-checkout', private: true, type: 'module', scripts: { build: 'node build.mjs' } }),
  );
  return root;
}

const run = (root: string, args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin/sealstream.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });

describe('the sealstream launcher', () => {
  it('builds once when the build is missing, then runs the CLI with the arguments', async () => {
    const root = await checkout(`
      import { mkdirSync, writeFileSync } from 'node:fs';
      for (const dir of ['packages/protocol/dist', 'packages/emitter/dist', 'packages/hub/dist/cli', 'packages/dashboard/dist'])
        mkdirSync(dir, { recursive: true });
      writeFileSync('packages/protocol/dist/index.js', '');
      writeFileSync('packages/emitter/dist/index.js', '');
      writeFileSync('packages/dashboard/dist/index.html', '');
      writeFileSync('packages/hub/dist/cli/main.js', 'console.log("cli " + process.argv.slice(2).join(" "));');
      console.log('fake build ran');
    `);
    const first = run(root, ['--version']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('not built yet');
    expect(first.stderr).toContain('fake build ran');
    // The command's own output stays alone on stdout, for scripts.
    expect(first.stdout).toBe('cli --version\n');
    const second = run(root, ['users', 'add', '--help']);
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe('cli users add --help\n');
  }, 240_000);

  it('says what to run when the build fails', async () => {
    const root = await checkout(`console.error('type error somewhere'); process.exit(2);`);
    const result = run(root, ['serve', '--demo']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('type error somewhere');
    expect(result.stderr).toMatch(/the build failed .*; run "npm run build" in .* and read its errors/);
  }, 240_000);
});
