/**
 * Starts the BUILT `sealstream` CLI as a separate process - for end-to-end tests, browser tests, CLI
 * tests and benchmarks alike - reads the ports it printed, and stops it: SIGTERM (an orderly shutdown,
 * SIGKILL after a deadline) or SIGKILL (a crash). Only processes started here are ever signalled, through
 * their own handles. Also the process's CPU time from /proc, for benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI; SEALSTREAM_E2E_CLI runs another build (e.g. a patched copy) against the same tests. */
export const HUB_CLI =
  process.env['SEALSTREAM_E2E_CLI'] ?? fileURLToPath(new URL('../../hub/dist/cli/main.js', import.meta.url));

export function hubBuilt(): boolean {
  return existsSync(HUB_CLI);
}

/** The listening addresses the hub prints at start; null for a listener that is off. */
export interface PrintedPorts {
  readonly http: number | null;
  readonly tcp: number | null;
  readonly legacy: number | null;
}

export interface StartHubOptions {
  /** Arguments after `serve` (ports default to 0, i.e. ephemeral, unless given here). */
  readonly args: readonly string[];
  /** The hub's environment; PATH is added. */
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for the hub's node process, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Keep only the last this many characters of output (a long benchmark prints little, but bound it). */
  readonly maxOutputChars?: number;
}

export interface HubProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly ports: PrintedPorts;
  output(): string;
  /** CPU seconds (user + system) of the hub so far; null where /proc is unavailable. */
  cpuSeconds(): number | null;
  /** The same for its main (JavaScript) thread alone. */
  mainThreadCpuSeconds(): number | null;
  /** SIGKILL: no shutdown code runs, like a crash or an OOM kill. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every hub this process started that still runs (for an interrupted run or afterAll). */
export function killRunningHubs(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
}

const DEFAULT_PORT_ARGS: ReadonlyArray<readonly [string, string]> = [
  ['--host', '127.0.0.1'],
  ['--http-port', '0'],
  ['--log-level', 'warn'],
];

/** Starts `sealstream serve` and resolves once it printed its listening addresses. */
export async function startHub(options: StartHubOptions): Promise<HubProcess> {
  const defaults = DEFAULT_PORT_ARGS.filter(([flag]) => !options.args.includes(flag)).flat();
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), HUB_CLI, 'serve', ...defaults, ...options.args],
    {
      env: { PATH: process.env['PATH'] ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => running.delete(child));
  const limit = options.maxOutputChars ?? Number.POSITIVE_INFINITY;
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > limit) output = output.slice(-limit);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  // The addresses are printed together once every listener is up; the dashboard line comes last of them.
  while (!/Dashboard:\s+\S+:\d+/.test(output) || !/Native TCP:\s+\S+/.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`hub exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub did not start in time:\n${output}`);
    }
    await sleep(50);
  }
  const pid = child.pid ?? -1;
  return {
    child,
    pid,
    ports: {
      http: printedPort(output, 'Dashboard'),
      tcp: printedPort(output, 'Native TCP'),
      legacy: printedPort(output, 'Legacy TCP'),
    },
    output: () => output,
    cpuSeconds: () => processCpuSeconds(pid),
    mainThreadCpuSeconds: () => processCpuSeconds(pid, pid),
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface CliRun {
  readonly code: number | null;
  /** stdout and stderr, interleaved as they came. */
  readonly output: string;
}

/** Runs another `sealstream` command (users add, emit, --version ...) to its end, bounded in time. */
export function runCli(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>>; stdin?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HUB_CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, output });
    });
  });
}

/** The port of a "<label>: <host>:<port>" line, or null when the line says the listener is off. */
export function printedPort(output: string, label: string): number | null {
  const match = new RegExp(`${label}:\\s+\\S*?:(\\d+)`).exec(output);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * utime + stime from /proc/<pid>/stat (or of one thread, /proc/<pid>/task/<tid>/stat), in seconds
 * (clock ticks are 100 Hz on Linux).
 */
export function processCpuSeconds(pid: number, tid?: number): number | null {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Busy and total CPU time of the whole machine (all cores) from /proc/stat, in seconds. */
export function machineCpuSeconds(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return null;
  }
}

/** Every sample of a hub's /metrics as `name{labels}` -> value. */
export async function scrapeMetrics(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** Sum of every sample whose name (with labels) starts with `prefix`. */
export function sumMetric(values: ReadonlyMap<string, number>, prefix: string): number {
  let total = 0;
  for (const [name, value] of values) if (name.startsWith(prefix)) total += value;
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
