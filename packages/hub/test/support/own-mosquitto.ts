/**
 * A Mosquitto of a test's own, for outages: a child process on a free loopback port that the test may
 * kill (by its PID, never the shared broker) and start again on the same port. No persistence: a restart
 * loses every session, as a broker that crashed without saving would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OwnMosquitto {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the broker dies at once, connections drop without a DISCONNECT. */
  kill(): Promise<void>;
  /** Starts it again on the same port and waits until it accepts connections. */
  start(): Promise<void>;
  /** Kills it (if running) and removes its files. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Null when no `mosquitto` binary can be started here (the caller skips with that reason). */
export async function startOwnMosquitto(): Promise<OwnMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'sealstream-mosquitto-'));
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`, { mode: 0o644 });
  let child: ChildProcess | null = null;
  let output = '';

  const start = async (): Promise<void> => {
    const started = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
    started.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
    const spawnError = new Promise<never>((_, reject) => started.once('error', reject));
    const deadline = Date.now() + 5000;
    for (;;) {
      if (await Promise.race([accepting(port), spawnError])) return;
      if (started.exitCode !== null || Date.now() > deadline) {
        throw new Error(`own mosquitto did not start on ${port}: ${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.pid === undefined) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    process.kill(running.pid, 'SIGKILL');
    await exited;
  };

  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async dispose() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
