/**
 * Runs a real hub as a separate process (the built CLI), on ephemeral ports on 127.0.0.1, and stops it
 * with SIGTERM (the hub commits what is queued and exits). Also samples the process's CPU time from
 * /proc so a scenario can say how busy the hub was.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HUB_CLI = fileURLToPath(new URL('../../packages/hub/dist/cli/main.js', import.meta.url));

export interface HubPorts {
  readonly http: number;
  readonly tcp: number | null;
  readonly legacy: number | null;
}

export interface HubProcess {
  readonly ports: HubPorts;
  readonly pid: number;
  /** CPU seconds (user + system) the hub has used so far; null where /proc is unavailable. */
  cpuSeconds(): number | null;
  /** The same for the hub's main (JavaScript) thread alone: the rest is GC helpers, libuv and workers. */
  mainThreadCpuSeconds(): number | null;
  output(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface HubStartOptions {
  readonly args: readonly string[];
  /** Extra node flags for the hub process, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Extra environment for the hub (e.g. PGAPPNAME, which the pg driver uses as application_name). */
  readonly env?: Readonly<Record<string, string>>;
}

const running = new Set<ChildProcess>();

/** Kills every hub this process started and that is still running (for an interrupted bench). */
export function killRunningHubs(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

export async function startHubProcess(options: HubStartOptions): Promise<HubProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      HUB_CLI,
      'serve',
      '--host',
      '127.0.0.1',
      '--http-port',
      '0',
      '--log-level',
      'warn',
      ...options.args,
    ],
    { env: { PATH: process.env.PATH ?? '', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const keep = (chunk: Buffer): void => {
    // Only the banner and warnings matter; keep the tail bounded.
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (!/Legacy TCP:\s+\S+/.test(output)) {
    if (child.exitCode !== null) throw new Error(`hub exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub did not start in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const port = (label: string): number | null => {
    const match = new RegExp(`${label}:\\s+\\S*?:(\\d+)`).exec(output);
    return match?.[1] === undefined ? null : Number(match[1]);
  };
  const http = port('Dashboard');
  if (http === null) throw new Error(`could not read the hub's HTTP port:\n${output}`);
  const pid = child.pid ?? -1;
  return {
    ports: { http, tcp: port('Native TCP'), legacy: port('Legacy TCP') },
    pid,
    cpuSeconds: () => processCpuSeconds(pid),
    mainThreadCpuSeconds: () => processCpuSeconds(pid, pid),
    output: () => output,
    stop: (timeoutMs = 60_000) => stopChild(child, exited, timeoutMs),
  };
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
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
