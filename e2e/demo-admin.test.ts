/**
 * The demo admin as a new user meets it, with the built `sealstream serve --demo`: a first start that
 * fails after the store is initialised (its HTTP port is taken) must not create the account unseen, so
 * the next start prints a password that logs in. Needs `npm run build`; skipped without it, failed on CI.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, cliBuilt } from './support/hub-process.js';

if (!cliBuilt && process.env.CI === 'true') throw new Error('the CLI is not built: run npm run build first');
if (!cliBuilt) console.warn('skipping the demo admin tests: the build is missing (run npm run build)');

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) server.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Run {
  readonly output: string;
  readonly code: number | null;
}

/**
 * Runs `serve --demo` until its start-up banner is printed or it exits by itself; a running hub is asked
 * to log in with the printed password (`LOGIN <status>` is appended to the output) and stopped.
 */
async function serveDemo(dataDir: string, httpPort: number): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      CLI_PATH,
      'serve',
      '--demo',
      '--data-dir',
      dataDir,
      '--http-port',
      String(httpPort),
      '--tcp-port',
      '0',
      '--legacy-port',
      'off',
      '--log-level',
      'warn',
    ],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (child.exitCode === null && !/API docs:/.test(output)) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.exitCode === null) {
    const port = Number(/Dashboard:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1]);
    const admin = /API admin:\s+(\S+) \/ (\S+)/.exec(output);
    if (admin !== null) {
      const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: admin[1], password: admin[2] }),
      });
      output += `\nLOGIN ${login.status}\n`;
    }
    child.kill('SIGTERM');
  }
  return { output, code: await exited };
}

describe.skipIf(!cliBuilt)('the demo admin', () => {
  it('is created only by a start that succeeds, so its password is always printed once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-demo-admin-'));
    dirs.push(dataDir);
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as AddressInfo).port;

    const failed = await serveDemo(dataDir, busyPort);
    expect(failed.code, failed.output).not.toBe(0);
    expect(failed.output).toMatch(/EADDRINUSE/);
    expect(failed.output).not.toMatch(/API admin:/);

    const first = await serveDemo(dataDir, 0);
    expect(first.output).toMatch(/API admin:\s+admin \/ \S+/);
    expect(first.output).toContain('LOGIN 200');
    // The banner is framed and comes last, after the log lines of start-up.
    expect(first.output.split('\nLOGIN')[0]?.trimEnd()).toMatch(/API docs:[\s\S]*API admin:[\s\S]*\n\s*={20,}$/);

    const later = await serveDemo(dataDir, 0);
    expect(later.output).not.toMatch(/API admin:\s+admin \/ /);
    expect(later.output).toContain(`npx sealstream users add --username admin2 --role admin --data-dir ${dataDir}`);
  }, 400_000);
});
