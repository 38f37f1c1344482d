/**
 * The scaled scenarios' hub: one writer, one gateway and one api node (`serve --role ...`) sharing a
 * PostgreSQL schema, a RabbitMQ vhost and a Redis key prefix of the bench's own, seen by a scenario as
 * one hub: devices connect to the gateway, the live subscriber to the api node, commit figures come
 * from the writer. Started writer first (the partition queues have a consumer before batches arrive),
 * stopped gateway first (nothing new enters while the writer finishes the bus's backlog). Every role
 * takes the bench's node flags; a `--cpu-prof-dir D` becomes `D/<role>` so each role's profile is found.
 */
import { join, sep } from 'node:path';
import type { HubProcess, HubStartOptions } from './hub-process.js';
import { startHubProcess } from './hub-process.js';

export interface ScaledHubOptions extends HubStartOptions {
  /** Store flags (--database-url, --database-schema), shared by every role. */
  readonly storeArgs: readonly string[];
  readonly amqpUrl: string;
  readonly redisUrl: string;
  /** Redis key prefix and bus name prefix of this run, so nothing of another run is seen. */
  readonly scope: string;
}

export interface ScaledHub extends HubProcess {
  /** The writer's HTTP port, whose /metrics holds the commit figures. */
  readonly metricsPort: number;
  /** CPU seconds so far of each role's process, for a per-role cost per reading (the capacity model). */
  roleCpuSeconds(): Record<'gateway' | 'writer' | 'api', number | null>;
  /** The gateway's and the api node's HTTP ports (their /metrics: bus round trips, live fan-out). */
  readonly rolePorts: { readonly gateway: number; readonly api: number };
}

export async function startScaledHubs(options: ScaledHubOptions): Promise<ScaledHub> {
  const cluster = [
    ...options.storeArgs,
    '--amqp-url',
    options.amqpUrl,
    '--redis-url',
    options.redisUrl,
    '--redis-key-prefix',
    `${options.scope}:`,
    '--bus-prefix',
    options.scope,
  ];
  const start = (role: string, args: readonly string[]): Promise<HubProcess> =>
    startHubProcess({
      ...options,
      ...(options.nodeFlags === undefined ? {} : { nodeFlags: roleNodeFlags(options.nodeFlags, role) }),
      args: [...args, ...cluster, '--role', role, '--instance', `${options.scope}-${role}`],
    });
  // The gateway and the api node take the scenario's flags (device keys, ports, live settings).
  // Every role takes the scenario's flags (the bus settings must match); the writer opens no listener.
  const writer = await start('writer', [...options.args, '--tcp-port', 'off', '--legacy-port', 'off']);
  const started: HubProcess[] = [writer];
  try {
    const gateway = await start('gateway', options.args);
    started.push(gateway);
    const api = await start('api', [...options.args, '--tcp-port', 'off', '--legacy-port', 'off']);
    started.push(api);
    const sum = (read: (hub: HubProcess) => number | null): number | null => {
      let total = 0;
      for (const hub of started) {
        const value = read(hub);
        if (value === null) return null;
        total += value;
      }
      return total;
    };
    return {
      ports: { http: api.ports.http, tcp: gateway.ports.tcp, legacy: gateway.ports.legacy },
      pid: gateway.pid,
      metricsPort: writer.ports.http,
      rolePorts: { gateway: gateway.ports.http, api: api.ports.http },
      cpuSeconds: () => sum((hub) => hub.cpuSeconds()),
      roleCpuSeconds: () => ({ gateway: gateway.cpuSeconds(), writer: writer.cpuSeconds(), api: api.cpuSeconds() }),
      mainThreadCpuSeconds: () => sum((hub) => hub.mainThreadCpuSeconds()),
      output: () => started.map((hub) => hub.output()).join('\n'),
      async stop(timeoutMs) {
        const codes = [await gateway.stop(timeoutMs), await writer.stop(timeoutMs), await api.stop(timeoutMs)];
        return codes.find((code) => code !== 0) ?? 0;
      },
    };
  } catch (error) {
    for (const hub of started) await hub.stop(5_000);
    throw error;
  }
}

/** The node flags of one role: the same, with a profile directory of the role's own. */
function roleNodeFlags(flags: readonly string[], role: string): string[] {
  return flags.map((flag, i) => {
    if (flags[i - 1] === '--cpu-prof-dir') return join(flag, role);
    if (flag.startsWith('--cpu-prof-dir=')) return `${flag}${sep}${role}`;
    return flag;
  });
}
