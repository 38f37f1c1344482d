/**
 * A local broker's CPU time (Mosquitto, or RabbitMQ's Erlang VM `beam.smp`), read from /proc/<pid>/stat
 * (found by exact process name, read only: the bench never signals it), so a report can set the
 * broker's share beside the hub's.
 */
import { execFileSync } from 'node:child_process';
import { processCpuSeconds } from './hub-process.js';

/** The broker's pid, or null when no local process of that exact name is visible. */
export function findBrokerPid(processName: 'mosquitto' | 'beam.smp'): number | null {
  try {
    const out = execFileSync('pgrep', ['-x', processName], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
    const pid = Number(out);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** CPU seconds the broker has used so far; null when it cannot be read. */
export function brokerCpuSeconds(pid: number | null): number | null {
  return pid === null ? null : processCpuSeconds(pid);
}
