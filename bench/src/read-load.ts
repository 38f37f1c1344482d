/**
 * A fixed read load for the `latency-20k-reads` scenario: a viewer account created in the bench's store
 * before the hub starts, then `workers` loops, each asking the hub's API in turn for one device's
 * unfiltered series (the last hour, 1 m buckets) and a page of 1000 raw readings, as fast as answers
 * come. Counts answers by kind: the hub may refuse reads (503 reads_busy) to keep ingest fast, and that is
 * part of what the scenario shows.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { HUB_CLI } from './hub-process.js';

export interface ReadLoadFigures {
  readonly workers: number;
  readonly ok: number;
  readonly busy: number;
  readonly failed: number;
  readonly bytes: number;
}

export interface ReadLoad {
  stop(): Promise<ReadLoadFigures>;
}

const USERNAME = 'bench-reader';

/** Creates the viewer account through `sealstream users add` (the hub must not be running yet on PGlite). */
export async function createReader(storeArgs: readonly string[]): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  const child = spawn(
    process.execPath,
    [HUB_CLI, 'users', 'add', '--username', USERNAME, '--role', 'viewer', '--password-stdin', ...storeArgs],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  child.stdin?.end(password);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`users add failed (${code}): ${stderr.trim()}`);
  return password;
}

export async function startReadLoad(options: {
  readonly httpPort: number;
  readonly password: string;
  readonly devices: readonly string[];
  readonly workers: number;
}): Promise<ReadLoad> {
  const base = `http://127.0.0.1:${options.httpPort}/api/v1`;
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USERNAME, password: options.password }),
  });
  if (!login.ok) throw new Error(`read load: login answered ${login.status}`);
  const { token } = (await login.json()) as { token: string };
  const figures = { workers: options.workers, ok: 0, busy: 0, failed: 0, bytes: 0 };
  let running = true;
  const loop = async (worker: number): Promise<void> => {
    for (let turn = 0; running; turn += 1) {
      const device = options.devices[(worker + turn) % options.devices.length] ?? 'none';
      const now = Date.now();
      const path =
        turn % 2 === 0
          ? `/devices/${device}/series?width=1m&from=${now - 3_600_000}&to=${now}`
          : `/devices/${device}/readings?limit=1000&from=${now - 60_000}&to=${now}`;
      try {
        const answer = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
        const body = await answer.arrayBuffer();
        figures.bytes += body.byteLength;
        if (answer.ok) figures.ok += 1;
        else if (answer.status === 503) {
          figures.busy += 1;
          // As a client should: wait as told (capped, so the load stays a load).
          const after = Number(answer.headers.get('retry-after') ?? '1');
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(50, after * 100))));
        } else figures.failed += 1;
      } catch {
        figures.failed += 1;
      }
    }
  };
  const loops = Array.from({ length: options.workers }, (_, worker) => loop(worker));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ...figures };
    },
  };
}
