/**
 * A hub run under a low descriptor limit (`ulimit -n`) says so instead of turning devices away in
 * silence: a warning at start when its connection bounds cannot fit, a warning when a flood of idle
 * connections brings it near the limit, the all-clear when they go, and a device connected before the
 * flood is still served. Needs `npm run build` and bash; Linux only (the watch reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeClient } from '@sealstream/emitter';
import { CLI_PATH, cliBuilt, eventually } from './support/hub-process.js';

if (!cliBuilt && process.env.CI === 'true') throw new Error(`${CLI_PATH} is missing: run npm run build first`);
const skipReason = !cliBuilt
  ? 'the build is missing (run npm run build)'
  : process.platform !== 'linux'
    ? 'the descriptor watch reads /proc (Linux only)'
    : null;
if (skipReason !== null) console.warn(`skipping descriptor tests: ${skipReason}`);

const LIMIT = 400;
const SECRET = randomBytes(32);
const children: ChildProcess[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];
let device: NativeClient | undefined;
afterEach(async () => {
  device?.destroy();
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function openIdle(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(skipReason !== null)(
  `a hub near its descriptor limit${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('warns at start, warns under a flood, clears after it, and keeps serving a connected device', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-fds-'));
      dirs.push(dataDir);
      const args = [
        CLI_PATH,
        'serve',
        ...['--data-dir', dataDir, '--http-port', '0', '--tcp-port', '0', '--legacy-port', 'off'],
        // One address (the test's) may hold every place: this floods descriptors, not one address's share.
        ...['--max-connections', '1000', '--max-connections-per-address', '1000', '--log-level', 'info'],
      ];
      // `exec` keeps the pid: the hub itself runs under the lowered limit.
      const quoted = [process.execPath, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
      const child = spawn('bash', ['-c', `ulimit -n ${LIMIT} && exec ${quoted}`], {
        env: {
          PATH: process.env.PATH ?? '',
          SEALSTREAM_DEVICE_KEYS: `fleet:${SECRET.toString('hex')}`,
          SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await eventually(() => {
        if (child.exitCode !== null) throw new Error(`hub exited:\n${output}`);
        return /Native TCP:\s+\S+:\d+/.test(output);
      }, 30_000);
      const tcpPort = Number(/Native TCP:\s+\S+:(\d+)/.exec(output)?.[1]);

      await eventually(() => output.includes('the connection bounds allow more open connections'), 10_000);
      expect(output).toContain(`"limit":${LIMIT}`);

      device = new NativeClient({ host: '127.0.0.1', port: tcpPort, keyId: 'fleet', secret: SECRET });
      for (let seq = 0; seq < 20; seq += 1)
        await device.send({ device: 'fd-0', seq, ts: Date.now(), data: { v: seq } });
      await device.flush();

      // Idle connections up to ~95 % of the limit, counting what the hub already holds.
      const opened = await Promise.all(Array.from({ length: Math.floor(LIMIT * 0.95) - 40 }, () => openIdle(tcpPort)));
      expect(opened.filter(Boolean).length).toBeGreaterThan(LIMIT * 0.8);
      // 'nearly exhausted' when the count was read, 'exhausted' when even reading /proc found none left.
      await eventually(() => /file descriptors (nearly )?exhausted/.test(output), 10_000);

      for (let seq = 20; seq < 40; seq += 1)
        await device.send({ device: 'fd-0', seq, ts: Date.now(), data: { v: seq } });
      await device.flush();
      expect(device.stats().acked).toBe(40);

      for (const socket of sockets.splice(0)) socket.destroy();
      await eventually(() => output.includes('file descriptors back under 80 %'), 10_000);
      expect(child.exitCode).toBeNull();
      // The flood once made the data-folder lock's heartbeat fail its read and stop the store for good.
      expect(output).not.toContain('no longer held');
      expect(output).not.toContain('store background error');
    }, 60_000);
  },
);
