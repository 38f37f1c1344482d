/**
 * The documentation's examples, run as written (bash, curl, openssl, jq) against a built hub: the
 * signed and InsightHub ingest examples of docs/api-ingest.md, and register-then-stream of
 * docs/api.md. A timestamp that rots, a device id the key may not speak for or a renamed flag fails here.
 * Only the addresses differ: `$H` is the test hub, and `npx sealstream emit` gets the hub's native port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockContaining, LAUNCHER, shellLines } from './support/doc-commands.js';
import { CLI_PATH, cliBuilt, killAllHubs, spawnHub, type HubProcess } from './support/hub-process.js';

if (!cliBuilt && process.env.CI === 'true') throw new Error('the CLI is not built: run npm run build first');
if (!cliBuilt) console.warn('skipping the docs example tests: the build is missing (run npm run build)');
const tools = ['bash', 'curl', 'openssl', 'jq'].filter((tool) => spawnSync('which', [tool]).status !== 0);
if (tools.length > 0) console.warn(`skipping the docs example tests: ${tools.join(', ')} not installed`);

const SECRET_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const JWT_SECRET = 'docs-examples-jwt-secret-0123456789abcdef';
const MASTER_KEY = 'ab'.repeat(32);

let hub: HubProcess;
let dir: string;
let token: string;

beforeAll(async () => {
  if (!cliBuilt || tools.length > 0) return;
  dir = await mkdtemp(join(tmpdir(), 'sealstream-docs-'));
  const dataDir = join(dir, 'data');
  const env = { SEALSTREAM_JWT_SECRET: JWT_SECRET, SEALSTREAM_MASTER_KEY: MASTER_KEY };
  const made = spawnSync(
    process.execPath,
    [CLI_PATH, 'users', 'add', '--username', 'docs-op', '--role', 'operator', '--data-dir', dataDir],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } },
  );
  const password = /password \(shown only now\): (\S+)/.exec(made.stdout)?.[1];
  if (password === undefined) throw new Error(`users add failed:\n${made.stdout}${made.stderr}`);
  hub = await spawnHub(['--data-dir', dataDir, '--device-keys', `sensor-1-key:${SECRET_HEX}:sensor-1`], env);
  const login = await fetch(`http://127.0.0.1:${hub.ports.http}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'docs-op', password }),
  });
  token = ((await login.json()) as { token: string }).token;
}, 240_000);

afterAll(async () => {
  killAllHubs();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Runs shell lines in bash with the documents' variables set; `npx sealstream` is this checkout's launcher. */
function runDoc(lines: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const preamble = [
    'set -o pipefail',
    `npx() { if [ "$1" = sealstream ] && [ "$2" = emit ]; then shift 2; node '${LAUNCHER}' emit "$@" --port ${hub.ports.tcp}; else command npx "$@"; fi; }`,
  ];
  const child = spawn('bash', ['-c', [...preamble, ...lines].join('\n')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      H: `http://127.0.0.1:${hub.ports.http}`,
      SECRET_HEX,
      TOKEN: token,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe.skipIf(!cliBuilt || tools.length > 0)('documented examples, run as written', () => {
  it('docs/api-ingest.md: the signed JSON example is accepted', async () => {
    const block = blockContaining('docs/api-ingest.md', '/api/v1/ingest/signed');
    const result = await runDoc(shellLines(block.text));
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('docs/api-ingest.md: the InsightHub example is accepted (202)', async () => {
    const block = blockContaining('docs/api-ingest.md', 'authorization: Bearer $TOKEN');
    const lines = shellLines(block.text).map((line) =>
      line.startsWith('curl ') ? line.replace('curl -s ', "curl -s -w ' %{http_code}' ") : line,
    );
    const result = await runDoc(lines);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('{"accepted":1,"duplicates":0,"rejected":0} 202');
  });

  it('docs/api.md: register a device, then stream as it with emit: every reading accepted', async () => {
    const block = blockContaining('docs/api.md', 'tee pump-7.json');
    const lines = shellLines(block.text);
    const emitAt = lines.findIndex((line) => line.includes('sealstream emit'));
    expect(emitAt).toBeGreaterThan(0);
    const result = await runDoc(lines.slice(0, emitAt + 1));
    // The summary the document shows (10 readings/s for 5 s: every one of the 50, the last one too).
    const documented = /^# (emit: .*)$/m.exec(block.text)?.[1];
    expect(documented).toBe('emit: 50 accepted, 0 duplicates, 0 refused');
    expect(result.stdout, result.stderr).toContain(documented);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { acked: number; sent: number };
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.acked).toBe(summary.sent);
  }, 60_000);
});
