/**
 * The broker's CPU time, read from /proc/<pid>/stat of the local Mosquitto, RabbitMQ or Redis server (found by
 * exact process name, read only: the bench never signals it), so a report can set the broker's share
 * beside the hub's. RabbitMQ's figure holds every vhost's traffic, other sessions' included.
 */
import { execFileSync } from 'node:child_process';
import { processCpuSeconds } from './hub-process.js';

/**
 * The broker's pid, or null when no local process of that name (`mosquitto`, `beam.smp`, or
 * `redis-server` for the Socket.IO adapter's pub/sub) is visible.
 */
export function findBrokerPid(name: 'mosquitto' | 'beam.smp' | 'redis-server' = 'mosquitto'): number | null {
  try {
    // The oldest of that name: the node itself, not a short-lived rabbitmqctl.
    const out = execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
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
