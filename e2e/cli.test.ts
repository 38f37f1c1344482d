/**
 * The built `sealstream` command as a user runs it: separate processes, real sockets, PGlite on disk.
 * Needs `npm run build` first (npm test runs it); skipped with the reason when the build is missing,
 * failed on CI.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HUB_CLI, hubBuilt, runCli, scrapeMetrics, startHub, sumMetric, type HubProcess } from '@sealstream/testkit';

const cli = HUB_CLI;
const built = hubBuilt();
if (!built && process.env.CI === 'true') throw new Error(`${cli} is missing: run npm run build before the CLI tests`);
if (!built) console.warn('skipping CLI tests: the build is missing (run npm run build)');

const started: HubProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const hub of started.splice(0)) await hub.kill9();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  ports: { http: number; tcp: number; legacy: number };
  /** Outside demo mode: a viewer account created with `sealstream users add` before the hub started. */
  viewer: { username: string; password: string } | null;
}

/** Outside demo mode the hub refuses to start without an API token secret of at least 32 bytes. */
const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdef-0123456789';

async function serve(
  args: string[],
  env: Record<string, string> = {},
  options: { dataDir?: string; role?: 'viewer' | 'operator'; startTimeoutMs?: number } = {},
): Promise<Started> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sealstream-cli-')));
  if (options.dataDir === undefined) dirs.push(dataDir);
  let viewer: Started['viewer'] = null;
  if (!args.includes('--demo')) {
    const role = options.role ?? 'viewer';
    const username = `e2e-${role}`;
    const made = await run(['users', 'add', '--username', username, '--role', role, '--data-dir', dataDir], {});
    const password = /password \(shown only now\): (\S+)/.exec(made.stdout)?.[1];
    if (password !== undefined) viewer = { username, password };
    else if (!/already exists|taken/.test(made.stdout)) throw new Error(`users add failed:\n${made.stdout}`);
  }
  const hub = await startHub({
    args: ['--http-port', '0', '--tcp-port', '0', '--legacy-port', '0', '--data-dir', dataDir, ...args],
    env: { SEALSTREAM_JWT_SECRET: JWT_SECRET, ...env },
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
  started.push(hub);
  const port = (value: number | null): number => value ?? Number.NaN;
  return {
    child: hub.child,
    output: () => hub.output(),
    ports: { http: port(hub.ports.http), tcp: port(hub.ports.tcp), legacy: port(hub.ports.legacy) },
    viewer,
  };
}

const tokens = new WeakMap<Started, string>();

async function tokenOf(hub: Started): Promise<string> {
  const cached = tokens.get(hub);
  if (cached !== undefined) return cached;
  if (hub.viewer === null) throw new Error('this hub has no e2e account');
  const login = await fetch(`http://127.0.0.1:${hub.ports.http}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(hub.viewer),
  });
  const token = ((await login.json()) as { token: string }).token;
  tokens.set(hub, token);
  return token;
}

async function apiPost(hub: Started, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${hub.ports.http}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await tokenOf(hub)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

async function emitNative(
  hub: Started,
  prefix: string,
  keyId: string,
  secret: string,
): Promise<{ sent: number; acked: number; rejected: number }> {
  const emitted = await run(
    [
      'emit',
      '--mode',
      'native',
      '--port',
      String(hub.ports.tcp),
      '--devices',
      '1',
      '--device-prefix',
      prefix,
      '--rate',
      '500',
      '--duration',
      '1',
      '--key-id',
      keyId,
    ],
    { SEALSTREAM_DEVICE_SECRET: secret },
  );
  return JSON.parse(emitted.stdout.trim().split('\n').at(-1) ?? '{}') as {
    sent: number;
    acked: number;
    rejected: number;
  };
}

/** GET an API route as the viewer (outside demo mode the API needs a token). */
async function apiGet(hub: Started, path: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  const cached = tokens.get(hub);
  if (cached !== undefined) {
    headers['authorization'] = `Bearer ${cached}`;
  } else if (hub.viewer !== null) {
    // Logged in once per hub: logins are rate-limited per address.
    const login = await fetch(`http://127.0.0.1:${hub.ports.http}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(hub.viewer),
    });
    const token = ((await login.json()) as { token: string }).token;
    tokens.set(hub, token);
    headers['authorization'] = `Bearer ${token}`;
  }
  return (await fetch(`http://127.0.0.1:${hub.ports.http}${path}`, { headers })).json();
}

/** Opens a legacy connection, sends `AUTH:<token>\n` and resolves with the first line answered. */
function legacyAuth(port: number, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`AUTH:${token}\n`));
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\n')) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error('no AUTH answer'));
    });
  });
}

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const result = await runCli(args, { env });
  return { code: result.code, stdout: result.output };
}

const metrics = scrapeMetrics;
const sum = sumMetric;

async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!built)('sealstream CLI', () => {
  it('serve --demo comes up with demo devices streaming and stops cleanly on SIGTERM', async () => {
    const hub = await serve(['--demo', '--demo-legacy-interval-ms', '300']);
    expect(hub.output()).toMatch(/Dashboard:\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect((await fetch(`http://127.0.0.1:${hub.ports.http}/healthz`)).status).toBe(200);
    await eventually(async () => {
      const m = await metrics(hub.ports.http);
      return (
        (m.get('sealstream_readings_accepted_total{source="tcp"}') ?? 0) > 0 &&
        (m.get('sealstream_readings_accepted_total{source="legacy"}') ?? 0) > 0
      );
    });
    const page = await (await fetch(`http://127.0.0.1:${hub.ports.http}/`)).text();
    expect(page).toContain('<div id="root">');
    // Demo mode: the first start prints an admin password once (stdout, not the log) that logs in;
    // the dashboard's two reads stay open without a token.
    const admin = /API admin:\s+(\S+) \/ (\S+)/.exec(hub.output());
    expect(admin).not.toBeNull();
    const login = await fetch(`http://127.0.0.1:${hub.ports.http}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: admin?.[1], password: admin?.[2] }),
    });
    expect(login.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${hub.ports.http}/api/v1/stats`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => hub.child.on('exit', (code) => resolve(code)));
    hub.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a seed-style emitter configured with the seed variables is counted exactly, tampered tokens refused', async () => {
    const env = { ENCRYPTION_KEY: 'an-operator-chosen-key', AUTH_TOKEN: 'an-operator-chosen-token' };
    const hub = await serve([], { ...env, SEALSTREAM_DEVICE_KEYS: `k1:${'11'.repeat(32)}` });
    const emitted = await run(['emit', '--mode', 'legacy', '--bursts', '3', '--interval', '100', '--tamper', '0.1'], {
      ...env,
      LISTENER_HOST: '127.0.0.1',
      LISTENER_PORT: String(hub.ports.legacy),
    });
    expect(emitted.code).toBe(0);
    const summary = JSON.parse(emitted.stdout.trim().split('\n').at(-1) ?? '{}') as {
      messages: number;
      tampered: number;
    };
    expect(summary.messages).toBeGreaterThanOrEqual(3 * 49);
    const expectedValid = summary.messages - summary.tampered;
    await eventually(async () => {
      const stats = (await apiGet(hub, '/api/v1/stats')) as {
        totalValid: number;
        totalInvalid: number;
      };
      return stats.totalValid + stats.totalInvalid >= summary.messages;
    });
    const m = await metrics(hub.ports.http);
    expect(m.get('sealstream_readings_accepted_total{source="legacy"}')).toBe(expectedValid);
    expect(sum(m, 'sealstream_readings_rejected_total{source="legacy"')).toBe(summary.tampered);
    const stats = (await apiGet(hub, '/api/v1/stats')) as {
      totalValid: number;
    };
    expect(stats.totalValid).toBe(expectedValid);
  });

  it('--demo accepts the seed emitter configured as its README says (its .env.example credentials), and the old demo token', async () => {
    const hub = await serve(
      ['--demo', '--demo-devices', '0', '--demo-legacy-interval-ms', '3600000'],
      {},
      {
        startTimeoutMs: 100_000,
      },
    );
    // The seed's handshake, byte for byte: AUTH:<token>\n answered AUTH_OK\n (or AUTH_FAIL\n).
    expect(await legacyAuth(hub.ports.legacy, 'emitter-auth-token-secure-67890')).toBe('AUTH_OK\n');
    expect(await legacyAuth(hub.ports.legacy, 'demo-auth-token')).toBe('AUTH_OK\n');
    expect(await legacyAuth(hub.ports.legacy, 'not-the-token')).toBe('AUTH_FAIL\n');
    // The seed emitter's variables (README: ENCRYPTION_KEY, AUTH_TOKEN, LISTENER_HOST, LISTENER_PORT).
    const emitted = await run(['emit', '--mode', 'legacy', '--bursts', '2', '--interval', '100'], {
      ENCRYPTION_KEY: 'encrypted-timeseries-secret-key-12345',
      AUTH_TOKEN: 'emitter-auth-token-secure-67890',
      LISTENER_HOST: '127.0.0.1',
      LISTENER_PORT: String(hub.ports.legacy),
    });
    expect(emitted.code).toBe(0);
    const summary = JSON.parse(emitted.stdout.trim().split('\n').at(-1) ?? '{}') as { messages: number };
    expect(summary.messages).toBeGreaterThanOrEqual(2 * 49);
    await eventually(
      async () =>
        ((await metrics(hub.ports.http)).get('sealstream_readings_accepted_total{source="legacy"}') ?? 0) >=
        summary.messages,
    );
  }, 180_000);

  it('emit --mode native delivers every reading it sends, acknowledged after commit', async () => {
    const secret = '22'.repeat(32);
    const hub = await serve([], { SEALSTREAM_DEVICE_KEYS: `fleet:${secret}` });
    const emitted = await run(
      [
        'emit',
        '--mode',
        'native',
        '--port',
        String(hub.ports.tcp),
        '--devices',
        '8',
        '--rate',
        '3000',
        '--duration',
        '2',
        '--key-id',
        'fleet',
      ],
      { SEALSTREAM_DEVICE_SECRET: secret },
    );
    expect(emitted.code).toBe(0);
    const summary = JSON.parse(emitted.stdout.trim().split('\n').at(-1) ?? '{}') as {
      sent: number;
      acked: number;
      rejected: number;
    };
    expect(summary.sent).toBeGreaterThan(3000);
    expect(summary.acked).toBe(summary.sent);
    const m = await metrics(hub.ports.http);
    expect(m.get('sealstream_readings_accepted_total{source="tcp"}')).toBe(summary.sent);
  });

  it('a device registered over the API streams with its issued key, survives a restart, and is refused once revoked', async () => {
    const masterKey = '5a'.repeat(32);
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-cli-'));
    dirs.push(dataDir);
    const env = { SEALSTREAM_MASTER_KEY: masterKey };
    const first = await serve([], env, { dataDir, role: 'operator' });
    const registered = await apiPost(first, '/api/v1/devices', { id: 'reg-1', name: 'e2e' });
    expect(registered.status).toBe(201);
    const key = (registered.body as { key: { keyId: string; secret: string; deviceToken: string } }).key;
    const before = await emitNative(first, 'reg', key.keyId, key.secret);
    expect(before.sent).toBeGreaterThan(100);
    expect(before.acked).toBe(before.sent);
    expect(first.output()).not.toContain(key.secret);

    // The same device over HTTP, as a plain HTTP client would: InsightHub-style with its bearer token, and
    // XRayIOT-style JSON signed by hand from the documented formula; a replay of the signed request is refused.
    const base = `http://127.0.0.1:${first.ports.http}`;
    const insight = await fetch(`${base}/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.deviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: 'reg-1', value: 21.5, time: new Date().toISOString() }),
    });
    expect(insight.status).toBe(202);
    const body = JSON.stringify({ readings: [{ seq: 900_001, ts: Date.now(), data: { t: 1 } }] });
    const secretBytes = Buffer.from(key.secret, 'hex');
    const timestamp = String(Date.now());
    const nonce = randomBytes(16).toString('hex');
    const payload = createHmac('sha256', secretBytes).update(body).digest('hex');
    const signature = createHmac('sha256', secretBytes)
      .update(`algorithm=sha256&deviceId=reg-1&nonce=${nonce}&payload=${payload}&timestamp=${timestamp}`)
      .digest('hex');
    const signedRequest = {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-device-id': 'reg-1',
        'x-timestamp': timestamp,
        'x-nonce': nonce,
        'x-hmac-signature': signature,
      },
      body,
    };
    const signed = await fetch(`${base}/api/v1/ingest/signed`, signedRequest);
    expect(signed.status).toBe(200);
    expect(await signed.json()).toMatchObject({ accepted: 1 });
    expect((await fetch(`${base}/api/v1/ingest/signed`, signedRequest)).status).toBe(409);
    const stored = (await apiGet(first, '/api/v1/devices/reg-1/readings?limit=10000')) as { items: unknown[] };
    expect(stored.items.length).toBe(before.sent + 2);

    first.child.kill('SIGTERM');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const wrongKey = await run(
      ['serve', '--http-port', '0', '--tcp-port', '0', '--legacy-port', 'off', '--data-dir', dataDir],
      { SEALSTREAM_JWT_SECRET: JWT_SECRET, SEALSTREAM_MASTER_KEY: '6b'.repeat(32) },
    );
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stdout).toMatch(/master key/);
    expect(wrongKey.stdout).not.toContain('6b'.repeat(32));

    const second = await serve([], env, { dataDir, role: 'operator' });
    second.viewer = first.viewer;
    const after = await emitNative(second, 'reg', key.keyId, key.secret);
    expect(after.acked).toBe(after.sent);
    const revoked = await apiPost(second, `/api/v1/devices/reg-1/keys/${key.keyId}/revoke`);
    expect(revoked.status).toBe(200);
    await emitNative(second, 'reg', key.keyId, key.secret);
    const m = await metrics(second.ports.http);
    expect(sum(m, 'sealstream_readings_rejected_total{source="tcp",reason="revoked_key"')).toBeGreaterThan(0);
  }, 90_000);

  it('refuses --http-port off, and reports an unreachable PostgreSQL server in words without its password', async () => {
    const env = { SEALSTREAM_JWT_SECRET: JWT_SECRET, SEALSTREAM_DEVICE_KEYS: `cfg:${'5b'.repeat(32)}` };
    const off = await run(['serve', '--http-port', 'off', '--tcp-port', '0', '--legacy-port', 'off'], env);
    expect(off.code).toBe(2);
    expect(off.stdout).toContain('--http-port / SEALSTREAM_HTTP_PORT cannot be off');

    // A port nothing listens on: bound once, then released.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const down = await run(['serve', '--http-port', '0', '--tcp-port', '0', '--legacy-port', 'off'], {
      ...env,
      DATABASE_URL: `postgres://hub:pw-never-printed@127.0.0.1:${port}/test`,
    });
    expect(down.code).toBe(1);
    expect(down.stdout).toContain(
      `cannot connect to PostgreSQL at 127.0.0.1:${port} (database test, user hub): connection refused`,
    );
    expect(down.stdout).toContain('(ECONNREFUSED)');
    expect(down.stdout).not.toContain('pw-never-printed');
  }, 60_000);

  it("a second process on a running hub's data folder is refused before it writes; a killed hub restarts", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-cli-'));
    dirs.push(dataDir);
    const env = { SEALSTREAM_DEVICE_KEYS: `lock:${'5a'.repeat(32)}` };
    const first = await serve([], env, { dataDir });
    const pid = first.child.pid as number;
    const lockFile = join(dataDir, 'sealstream.lock');
    expect(JSON.parse(await readFile(lockFile, 'utf8')).pid).toBe(pid);

    // Before the lock both of these opened the folder and wrote to it: a second hub on other ports ran,
    // acknowledged readings and lost them all when the first wrote over its pages.
    const secondHub = await run(
      ['serve', '--http-port', '0', '--tcp-port', '0', '--legacy-port', 'off', '--data-dir', dataDir],
      { SEALSTREAM_JWT_SECRET: JWT_SECRET, ...env },
    );
    expect(secondHub.code).toBe(1);
    expect(secondHub.stdout).toContain(`is in use by process ${pid}`);
    const usersAdd = await run(
      ['users', 'add', '--username', 'late-admin', '--role', 'admin', '--data-dir', dataDir],
      {},
    );
    expect(usersAdd.code).not.toBe(0);
    expect(usersAdd.stdout).toContain(`is in use by process ${pid}`);
    expect((await fetch(`http://127.0.0.1:${first.ports.http}/healthz`)).status).toBe(200);

    // kill -9 leaves the lock file behind; its process is gone, so the next hub takes it over.
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    expect(existsSync(lockFile)).toBe(true);
    const restarted = await serve([], env, { dataDir });
    expect((await fetch(`http://127.0.0.1:${restarted.ports.http}/healthz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => restarted.child.once('exit', (code) => resolve(code)));
    restarted.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  }, 90_000);
});
