/**
 * The hub's file descriptors, which Node never reports running out of. When a listener's accept()
 * fails for lack of descriptors (EMFILE), libuv accepts and closes the waiting connection and emits
 * nothing, so a hub at its limit turns devices away without a word. This module says so: once at start
 * when the configured connection bounds cannot fit under the process's limit, and while running when
 * the open descriptors near it. Linux only (it reads /proc/self); elsewhere it stays silent. The
 * `sealstream_process_open_fds` / `sealstream_process_max_fds` metrics carry the same counts for alerts.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/hub-config.js';

export interface DescriptorUse {
  readonly open: number;
  readonly limit: number;
}

/** A reading of the descriptors in use; 'exhausted' when the reading itself failed for lack of one. */
export type DescriptorReading = DescriptorUse | 'exhausted' | null;

/** Descriptors a hub needs besides its client connections: store, log, files, DNS, timers. A margin. */
const RESERVED_DESCRIPTORS = 256;
/** Connections the monitor port holds at most (monitor-app.ts). */
const MONITOR_CONNECTIONS = 64;

/** Warn at this share of the limit; say it is over when use falls below the lower share. */
const WARN_SHARE = 0.9;
const CLEAR_SHARE = 0.8;

/** How often the running hub counts its descriptors (a readdir of /proc/self/fd, off the main thread). */
export const DESCRIPTOR_CHECK_MS = 2_000;

/** The descriptors the configured bounds allow the hub to hold at once, plus the reserve. */
export function descriptorBudget(config: HubConfig): number {
  const listeners = [config.tcpPort, config.legacyPort, config.httpPort].filter((port) => port !== null).length;
  const monitor = config.monitorPort === null ? 0 : MONITOR_CONNECTIONS;
  const pool = config.store.kind === 'postgres' ? config.store.poolSize : 0;
  return listeners * config.limits.maxConnectionsPerListener + monitor + pool + RESERVED_DESCRIPTORS;
}

/** Open descriptors and the soft limit of this process, from /proc/self; null where there is no /proc. */
export async function readDescriptorUse(): Promise<DescriptorReading> {
  try {
    const [entries, limits] = await Promise.all([readdir('/proc/self/fd'), readFile('/proc/self/limits', 'utf8')]);
    const line = limits.split('\n').find((text) => text.startsWith('Max open files'));
    const soft = line === undefined ? Number.NaN : Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
    // "unlimited" parses as NaN: nothing to watch.
    if (!Number.isFinite(soft) || soft <= 0) return null;
    // The readdir's own descriptor is in the listing.
    return { open: Math.max(0, entries.length - 1), limit: soft };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') return 'exhausted';
    return null;
  }
}

export interface DescriptorWatchOptions {
  readonly logger: Logger;
  /** descriptorBudget(config) and the flag that sets it, for the start warning. */
  readonly budget: number;
  readonly read?: () => Promise<DescriptorReading>;
  readonly intervalMs?: number;
}

export interface DescriptorWatch {
  /** Resolves after the first reading (and the start warning, if any) was made. */
  readonly ready: Promise<void>;
  stop(): void;
}

/**
 * Warns once at start when `budget` exceeds the limit, then every `intervalMs` counts the open
 * descriptors: one warning when they reach 90 % of the limit (or cannot even be counted), one info line
 * when they fall back under 80 %. Never throws; the timer does not keep the process alive.
 */
export function startDescriptorWatch(options: DescriptorWatchOptions): DescriptorWatch {
  const { logger, budget } = options;
  const read = options.read ?? readDescriptorUse;
  let warned = false;
  let stopped = false;
  let checking = false;

  const check = async (): Promise<void> => {
    if (checking || stopped) return;
    checking = true;
    try {
      const use = await read();
      if (use === null) return;
      if (use === 'exhausted') {
        if (!warned)
          logger.error(
            'file descriptors exhausted: new connections are being closed unanswered; raise the limit (ulimit -n) or lower --max-connections',
          );
        warned = true;
        return;
      }
      if (!warned && use.open >= use.limit * WARN_SHARE) {
        warned = true;
        logger.warn(
          { open: use.open, limit: use.limit },
          'file descriptors nearly exhausted: at the limit, new connections are closed unanswered; raise the limit (ulimit -n) or lower --max-connections',
        );
      } else if (warned && use.open < use.limit * CLEAR_SHARE) {
        warned = false;
        logger.info({ open: use.open, limit: use.limit }, 'file descriptors back under 80 % of the limit');
      }
    } catch {
      // A watch must never take the hub down; the next tick tries again.
    } finally {
      checking = false;
    }
  };

  const ready = (async () => {
    const use = await read().catch(() => null);
    if (use !== null && use !== 'exhausted' && budget > use.limit) {
      logger.warn(
        { budget, limit: use.limit },
        'the connection bounds allow more open connections than this process may open descriptors (ulimit -n): at the limit new connections are closed unanswered; raise the limit or lower --max-connections',
      );
    }
    await check();
  })();
  const timer = setInterval(() => void check(), options.intervalMs ?? DESCRIPTOR_CHECK_MS);
  timer.unref();
  return {
    ready,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
