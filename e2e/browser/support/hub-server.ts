/**
 * A real hub for the browser tests: the BUILT `sealstream serve` (which also serves the built dashboard)
 * as a child process with all three listeners, PGlite in a temp directory, a device key and the legacy
 * credentials. It can be stopped and started again on the same ports and data, which is how the tests
 * take the live link away from the page and give it back. Outside demo mode the API wants a bearer
 * token, so the test process reads the truth as a viewer account created with `sealstream users add`
 * before the first start. Only the child processes started here are ever signalled, through their own
 * handles.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB_CLI, hubBuilt as cliBuilt, runCli, startHub, type HubProcess } from '@sealstream/testkit';

export const CLI_PATH = HUB_CLI;
export const DASHBOARD_INDEX = fileURLToPath(new URL('../../../packages/dashboard/dist/index.html', import.meta.url));
export const hubBuilt = cliBuilt() && existsSync(DASHBOARD_INDEX);

/** A fresh PGlite directory creates its database first, which is slow on a busy machine. */
const START_TIMEOUT_MS = 120_000;
/**
 * A clean stop commits what is queued and then may fold the hub's own rollup-journal rows for up to
 * 10 s (LAST_FOLD_MS in store/sql-store.ts), so 10 s was too tight a budget: one loaded CI run killed
 * the hub at 10 s while it was stopping (why it was slow there was not established; alone it stops in
 * ~0.15 s). A hub that hangs still fails the test; the budget stays below the test's own timeout.
 */
const STOP_TIMEOUT_MS = 25_000;
const COMMAND_TIMEOUT_MS = 120_000;

export interface HubPorts {
  readonly http: number;
  readonly tcp: number;
  readonly legacy: number;
}

export interface HubServerOptions {
  /** Environment for the hub (device keys, legacy credentials); PATH is added. */
  readonly env: Record<string, string>;
  /** How long a start may take before it fails; default 45 s. */
  readonly startTimeoutMs?: number;
}

export class HubServer {
  private hub: HubProcess | null = null;
  private dataDir: string | null = null;
  private pinned: HubPorts | null = null;

  constructor(private readonly options: HubServerOptions) {}

  get ports(): HubPorts {
    if (this.pinned === null) throw new Error('the hub has not been started');
    return this.pinned;
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}/`;
  }

  get running(): boolean {
    const child = this.hub?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** What the current (or last) process printed, for failure messages. */
  log(): string {
    return this.hub?.output() ?? '';
  }

  /**
   * `sealstream users add --password-stdin` on this hub's data directory. PGlite serves one process
   * at a time, so call it while the hub is stopped (before the first start).
   */
  async addUser(username: string, role: 'viewer' | 'operator' | 'admin', password: string): Promise<void> {
    if (this.running) throw new Error('stop the hub before adding users to its PGlite store');
    const dataDir = await this.ensureDataDir();
    const made = await runCli(
      ['users', 'add', '--username', username, '--role', role, '--password-stdin', '--data-dir', dataDir],
      { env: this.options.env, stdin: `${password}\n`, timeoutMs: COMMAND_TIMEOUT_MS },
    );
    if (made.code !== 0) throw new Error(`sealstream users add failed (code ${made.code}):\n${made.output}`);
  }

  /** First start: ephemeral ports, new data directory. Later starts: the same ports and data. */
  async start(): Promise<HubPorts> {
    if (this.running) throw new Error('the hub is already running');
    const dataDir = await this.ensureDataDir();
    const port = (name: keyof HubPorts): string => String(this.pinned?.[name] ?? 0);
    this.hub = await startHub({
      args: [
        '--http-port',
        port('http'),
        '--tcp-port',
        port('tcp'),
        '--legacy-port',
        port('legacy'),
        '--data-dir',
        dataDir,
      ],
      env: this.options.env,
      startTimeoutMs: this.options.startTimeoutMs ?? START_TIMEOUT_MS,
    });
    const { http, tcp, legacy } = this.hub.ports;
    if (http === null || tcp === null || legacy === null) throw new Error(`a listener is missing:\n${this.log()}`);
    this.pinned = { http, tcp, legacy };
    return this.pinned;
  }

  /** SIGTERM (a normal shutdown), SIGKILL if it does not exit in time; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.hub === null) return null;
    return this.hub.stop(STOP_TIMEOUT_MS);
  }

  private async ensureDataDir(): Promise<string> {
    this.dataDir ??= await mkdtemp(join(tmpdir(), 'sealstream-browser-'));
    return this.dataDir;
  }

  /** Kills the process if still running and deletes the data directory. For afterAll. */
  async dispose(): Promise<void> {
    await this.hub?.kill9();
    this.hub = null;
    if (this.dataDir !== null) await rm(this.dataDir, { recursive: true, force: true });
    this.dataDir = null;
  }
}

export interface HubStats {
  readonly totalReceived: number;
  readonly totalValid: number;
  readonly totalInvalid: number;
  readonly totalDuplicate: number;
  readonly successRate: number;
  readonly readingsPerSec: number;
  readonly rejectsPerSec: number;
  readonly rejectsByReason: Readonly<Record<string, number>>;
  readonly at: number;
}

/** POST /api/v1/auth/login; the bearer token for later API calls. */
export async function apiLogin(httpPort: number, username: string, password: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`POST /api/v1/auth/login: HTTP ${response.status}`);
  const { token } = (await response.json()) as { token?: unknown };
  if (typeof token !== 'string') throw new Error('POST /api/v1/auth/login: no token in the answer');
  return token;
}

/** GET /api/v1/stats, the numbers the page must agree with. */
export async function fetchHubStats(httpPort: number, token: string): Promise<HubStats> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/stats`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`GET /api/v1/stats: HTTP ${response.status}`);
  return (await response.json()) as HubStats;
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Any API call as a given bearer token; the status and parsed body (null when not JSON). */
export async function apiCall(
  httpPort: number,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

/** The paths of the hub's OpenAPI document: which routes this build of the hub has. */
export async function apiPaths(httpPort: number): Promise<Set<string>> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/openapi.json`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /openapi.json: HTTP ${response.status}`);
  const document = (await response.json()) as { paths?: Record<string, unknown> };
  return new Set(Object.keys(document.paths ?? {}));
}
