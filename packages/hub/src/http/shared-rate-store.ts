/**
 * A store for @fastify/rate-limit that counts in a window shared by every hub (SharedWindowCounter,
 * Redis), so a limit holds across nodes. When the shared counter cannot answer, a key that fails closed
 * (login) gets StateUnavailableError (503 state_unavailable); any other key is counted by this process
 * alone until the counter answers again (the limit still holds per node). The local fallback is a fixed
 * window per key, bounded: at `maxTracked` keys it starts over (memory never grows; a client regains at
 * most one window's budget, and only during an outage).
 */
import type { SharedWindowCounter } from '../pipeline/shared-state-ports.js';
import { StateUnavailableError } from '../pipeline/shared-state-ports.js';

interface StoreResult {
  readonly current: number;
  readonly ttl: number;
}
type Callback = (error: Error | null, result?: StoreResult) => void;

export interface SharedRateStoreOptions {
  readonly maxTracked: number;
  /** Keys refused (rather than counted locally) while the shared counter is away. */
  readonly failsClosed: (key: string) => boolean;
  /** Told each time a count falls back to this process (for a log line or a metric). */
  readonly onFallback?: () => void;
  readonly now?: () => number;
}

/** The store class the plugin constructs (its `store` option). */
export function sharedRateStore(counter: SharedWindowCounter, options: SharedRateStoreOptions) {
  const now = options.now ?? Date.now;
  const local = new Map<string, { count: number; resetAt: number }>();
  const countLocally = (key: string, windowMs: number): StoreResult => {
    const at = now();
    let entry = local.get(key);
    if (entry === undefined || entry.resetAt <= at) {
      if (entry === undefined && local.size >= options.maxTracked) local.clear();
      entry = { count: 0, resetAt: at + windowMs };
      local.set(key, entry);
    }
    entry.count += 1;
    return { current: entry.count, ttl: entry.resetAt - at };
  };
  return class SharedRateStore {
    incr(key: string, callback: Callback, windowMs: number): void {
      counter.hit(key, windowMs).then(
        ({ count, resetInMs }) => callback(null, { current: count, ttl: resetInMs }),
        (error: unknown) => {
          if (options.failsClosed(key)) {
            callback(error instanceof StateUnavailableError ? error : new StateUnavailableError('rate counter'));
            return;
          }
          options.onFallback?.();
          callback(null, countLocally(key, windowMs));
        },
      );
    }

    /** The plugin asks for a child per route with its own settings; the limits here are scope-wide. */
    child(): SharedRateStore {
      return this;
    }
  };
}
