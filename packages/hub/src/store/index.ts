/**
 * Public entry of the store: `openStore` picks the driver (embedded PGlite in a data folder, or a
 * PostgreSQL server by URL) and returns the one SQL implementation over it. Opening does not migrate;
 * the application calls `migrate()` once it is ready.
 */
import { PgliteExecutor } from './pglite-executor.js';
import { DEFAULT_READ_POOL_SIZE, PostgresExecutor } from './postgres-executor.js';
import { DEFAULT_READ_QUEUE, DEFAULT_READ_WAIT_MS } from './read-budget.js';
import { SqlReadingStore } from './sql-store.js';
import type { SqlExecutor } from './sql-executor.js';
import { SqlRegistryStore } from './registry-store.js';
import { SqlSignalStore } from './xray-signals.js';

export type StoreOptions =
  | {
      readonly kind: 'pglite';
      readonly dataDir: string;
      /** How often to CHECKPOINT when something was written; default 30 s. Always done on close. */
      readonly checkpointIntervalMs?: number;
      /** 'worker' (default): PGlite runs in its own thread; 'main': on the caller's thread. */
      readonly thread?: 'worker' | 'main';
      /** Worker thread only: a call PGlite has not answered after this long stops the store; default 300 s. */
      readonly callTimeoutMs?: number;
      /** API reads waiting at most (one runs at a time, behind every commit); default 32 / 5 s. */
      readonly reads?: StoreReadOptions;
      readonly onBackgroundError?: (error: unknown) => void;
    }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      /** Schema to create (when missing) and use via search_path; default: the server's search_path. */
      readonly schema?: string;
      /** Default 4 connections. */
      readonly poolSize?: number;
      /** Server-side statement_timeout, default 30 s. */
      readonly statementTimeoutMs?: number;
      /** Default 10 s; a down server fails a commit within this instead of hanging it. */
      readonly connectTimeoutMs?: number;
      /** The read pool (API reads): connections, waiting bound and server-side statement_timeout. */
      readonly reads?: StoreReadOptions & { readonly poolSize?: number; readonly timeoutMs?: number };
      readonly onBackgroundError?: (error: unknown) => void;
    };

/** How many API reads may wait for a slot, and how long (read-budget.ts). */
export interface StoreReadOptions {
  readonly maxWaiting?: number;
  readonly maxWaitMs?: number;
}

/** The executor behind each opened store, so registry SQL can share its connections. */
const executors = new WeakMap<SqlReadingStore, SqlExecutor>();

export async function openStore(options: StoreOptions): Promise<SqlReadingStore> {
  const reads = options.reads ?? {};
  let concurrency = 1;
  let executor: SqlExecutor;
  if (options.kind === 'pglite') {
    // One connection: a second read would only wait there, behind commits, unbounded in time.
    executor = await PgliteExecutor.open(options);
  } else {
    const { poolSize, timeoutMs } = options.reads ?? {};
    concurrency = poolSize ?? DEFAULT_READ_POOL_SIZE;
    executor = await PostgresExecutor.open({
      ...options,
      ...(poolSize === undefined ? {} : { readPoolSize: poolSize }),
      ...(timeoutMs === undefined ? {} : { readTimeoutMs: timeoutMs }),
    });
  }
  const store = new SqlReadingStore(executor, {
    reads: {
      concurrency,
      maxWaiting: reads.maxWaiting ?? DEFAULT_READ_QUEUE,
      maxWaitMs: reads.maxWaitMs ?? DEFAULT_READ_WAIT_MS,
    },
  });
  executors.set(store, executor);
  return store;
}

/** The registry and re-drive SQL over the same database (and connections) as `store`. */
export function registryStoreFor(store: SqlReadingStore): SqlRegistryStore {
  const executor = executors.get(store);
  if (executor === undefined) throw new Error('store: registryStoreFor needs a store made by openStore');
  return new SqlRegistryStore(executor);
}

/** The XRayIOT signal summaries over the same database (and connections) as `store`. */
export function signalStoreFor(store: SqlReadingStore): SqlSignalStore {
  const executor = executors.get(store);
  if (executor === undefined) throw new Error('store: signalStoreFor needs a store made by openStore');
  return new SqlSignalStore(executor);
}

export { SqlReadingStore } from './sql-store.js';
export { SqlSignalStore, type SignalSummaryRow, type StoredSignalSummary } from './xray-signals.js';
export type { FlushOutcome } from './rollup-journal.js';
export type { DeadLetterBounds, PruneOutcome } from './dead-letter-retention.js';
export { SqlRegistryStore } from './registry-store.js';
export { UNKNOWN_DEVICE } from './minute-aggregates.js';
export { DEFAULT_CHECKPOINT_INTERVAL_MS } from './pglite-executor.js';
export {
  DEFAULT_POOL_SIZE,
  DEFAULT_READ_POOL_SIZE,
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
} from './postgres-executor.js';
export { DEFAULT_READ_QUEUE, DEFAULT_READ_WAIT_MS, ReadsBusyError } from './read-budget.js';
