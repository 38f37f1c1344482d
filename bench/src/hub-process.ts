/**
 * The benchmark's view of a hub process: started by the test kit (the built CLI, ephemeral ports on
 * 127.0.0.1), stopped with SIGTERM (the hub commits what is queued and exits), with the process's CPU
 * time from /proc so a scenario can say how busy the hub was.
 */
import { startHub, HUB_CLI, killRunningHubs, machineCpuSeconds, processCpuSeconds } from '@sealstream/testkit';

export { HUB_CLI, killRunningHubs, machineCpuSeconds, processCpuSeconds };

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

export async function startHubProcess(options: HubStartOptions): Promise<HubProcess> {
  const hub = await startHub({
    args: options.args,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.nodeFlags === undefined ? {} : { nodeFlags: options.nodeFlags }),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    // Only the banner and warnings matter; keep the tail bounded.
    maxOutputChars: 20_000,
  });
  const http = hub.ports.http;
  if (http === null) throw new Error(`could not read the hub's HTTP port:\n${hub.output()}`);
  return {
    ports: { http, tcp: hub.ports.tcp, legacy: hub.ports.legacy },
    pid: hub.pid,
    cpuSeconds: () => hub.cpuSeconds(),
    mainThreadCpuSeconds: () => hub.mainThreadCpuSeconds(),
    output: () => hub.output(),
    stop: (timeoutMs = 60_000) => hub.stop(timeoutMs),
  };
}
