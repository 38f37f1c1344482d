/**
 * SqlExecutor over embedded PGlite running in a worker thread. PGlite is PostgreSQL compiled to WASM
 * and runs synchronously on the thread that owns it: in the hub's main thread it saturated that one
 * core (62 % of busy time in WASM) and nothing else — no socket read, no acknowledgement — happened
 * while a commit ran. In a worker, the WASM uses the second core while the main thread opens frames and
 * answers devices.
 *
 * Same contract as PgliteExecutor: one connection, so every call is serialised here (a transaction
 * holds the connection from BEGIN to COMMIT/ROLLBACK and no other caller's statement can land inside
 * it). The queue in front of the connection has two levels: writes (commits, folds, checkpoints) always
 * go before reads (`read`, the API's queries), so a commit waits at most for the one read running —
 * 8 heavy series reads queued ahead of commits once held native ACKs for 23 s. A read of several
 * statements (a series, minute documents, an export's pages) yields to waiting writes between them, and
 * each statement is bounded by the API's limits (PGlite has no working statement_timeout). File-backed
 * data folder; CHECKPOINT every `checkpointIntervalMs` when something was written, and on close.
 * Bound: at most one request is outstanding at the worker at any time (the rest wait in the two-level
 * queue, whose callers are bounded by the committer and the API's read budget).
 * If the worker dies, every pending and later call fails with an error (the store reports it; the
 * committer retries and then answers `store_unavailable`). A call PGlite leaves unanswered for
 * `callTimeoutMs` stops the store the same way: PGlite whose disk filled up was seen spinning at 100 % of
 * its thread without ever answering again, which held every commit (devices got neither ACK nor ERROR),
 * /healthz and shutdown for good. Terminating the thread turns that into refusals and a failing health
 * check; the data folder recovers at the next start like after a kill.
 * Durable like the main-thread mode: the worker opens PGlite with pglite-durability.ts's start
 * parameters and its own copy of the fsync hook, and the data folder is synced once before first use.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqlExecutor, SqlRow, SqlTransaction } from './sql-executor.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { describeOpenFailure } from './pglite-open-errors.js';
import { PGLITE_WORKER_SOURCE } from './pglite-worker-source.js';
import { durableStartParams, syncDataFolderOnce } from './pglite-durability.js';

/**
 * Default bound on one call (`--pglite-call-timeout-ms`). Far above the statements of normal running (a
 * commit of 10K rows ~0.3 s, a checkpoint seconds), with room for a migration's one long statement over a
 * large folder; raise it for folders whose migrations take longer. Only a PGlite that stopped answering
 * should hit it.
 */
export const DEFAULT_PGLITE_CALL_TIMEOUT_MS = 300_000;

export interface PgliteWorkerExecutorOptions {
  readonly dataDir: string;
  /** A call unanswered this long stops the store (see the header); default 300 s. */
  readonly callTimeoutMs?: number;
  readonly checkpointIntervalMs: number;
  readonly onBackgroundError?: (error: unknown) => void;
}

type Request =
  | { readonly op: 'query'; readonly text: string; readonly params: readonly unknown[] }
  | { readonly op: 'copy'; readonly text: string; readonly data: string }
  | { readonly op: 'exec'; readonly text: string }
  | { readonly op: 'syncCalls' }
  | { readonly op: 'close' };

interface Answer {
  readonly id: number;
  readonly ok: boolean;
  readonly rows?: SqlRow[];
  readonly error?: { message: string; code?: string; severity?: string };
}

/**
 * file: URL of an ES module entry of PGlite ('.' or './nodefs'). The worker imports it by this absolute
 * URL (its own module resolution would start from the working directory). The ES build, not the
 * CommonJS one that `require.resolve` names: the CommonJS build took twice as long to create a database
 * (33 s against 17 s on the loaded test machine).
 */
function pgliteModuleUrl(entryName: '.' | './nodefs'): string {
  const cjsEntry = createRequire(import.meta.url).resolve(
    entryName === '.' ? '@electric-sql/pglite' : '@electric-sql/pglite/nodefs',
  );
  for (let dir = dirname(cjsEntry); dir !== dirname(dir); dir = dirname(dir)) {
    let manifest: { name?: unknown; exports?: Record<string, { import?: { default?: unknown } } | undefined> };
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof manifest;
    } catch {
      continue;
    }
    if (manifest.name !== '@electric-sql/pglite') continue;
    const entry = manifest.exports?.[entryName]?.import?.default;
    if (typeof entry === 'string') return pathToFileURL(join(dir, entry)).href;
    break;
  }
  return pathToFileURL(cjsEntry).href;
}

/** A database error rebuilt on this side: message, SQLSTATE and severity only (see store-errors.ts). */
class PgliteWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly severity: string | undefined,
  ) {
    super(message);
    if (severity === undefined) delete (this as { severity?: unknown }).severity;
  }
}

export class PgliteWorkerExecutor implements SqlExecutor {
  readonly kind = 'pglite' as const;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (rows: SqlRow[]) => void; reject: (e: Error) => void }>();
  /** Work waiting for the connection: writes first, then reads; `busy` while one holds it. */
  private readonly writesWaiting: Array<() => void> = [];
  private readonly readsWaiting: Array<() => void> = [];
  private busy = false;
  /** Settles when nothing holds or waits for the connection (close waits for it). */
  private idleWaiters: Array<() => void> = [];
  private dirty = false;
  private closed = false;
  private dead: Error | undefined;
  /** Set once open() has seen PGlite answer; from then on every call is bounded by callTimeoutMs. */
  private opened = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: DataDirLock,
    checkpointIntervalMs: number,
    private readonly callTimeoutMs: number,
    private readonly onBackgroundError: (error: unknown) => void,
  ) {
    worker.on('message', (answer: Answer) => this.settle(answer));
    worker.on('error', (error) => this.fail(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => this.fail(new Error(`PGlite worker exited (code ${code})`)));
    worker.unref();
    this.timer = setInterval(() => void this.checkpointIfDirty(), checkpointIntervalMs);
    this.timer.unref();
  }

  static async open(options: PgliteWorkerExecutorOptions): Promise<PgliteWorkerExecutor> {
    const interval = options.checkpointIntervalMs;
    if (!Number.isFinite(interval) || interval <= 0) throw new Error('store: checkpointIntervalMs must be positive');
    await mkdir(options.dataDir, { recursive: true });
    // Before PGlite touches the folder: a second process must not write a single page of it.
    let lockLost: (error: Error) => void = () => undefined;
    const lock = await acquireDataDirLock(options.dataDir, { onLost: (error) => lockLost(error) });
    let worker: Worker;
    try {
      worker = new Worker(PGLITE_WORKER_SOURCE, {
        eval: true,
        workerData: {
          dataDir: options.dataDir,
          pgliteUrl: pgliteModuleUrl('.'),
          nodefsUrl: pgliteModuleUrl('./nodefs'),
          startParams: durableStartParams(),
        },
      });
    } catch (error) {
      await lock.release();
      throw error;
    }
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_PGLITE_CALL_TIMEOUT_MS;
    const executor = new PgliteWorkerExecutor(
      worker,
      lock,
      interval,
      callTimeoutMs,
      options.onBackgroundError ?? (() => undefined),
    );
    lockLost = (error) => executor.stop(error);
    try {
      // Surfaces a data folder PGlite cannot open now, not at the first commit.
      await executor.query('SELECT 1');
      // PGlite is idle until open() returns, so the folder can be synced from this thread.
      await syncDataFolderOnce(options.dataDir);
      executor.opened = true;
    } catch (error) {
      await executor.terminate();
      throw await describeOpenFailure(error, options.dataDir);
    }
    return executor;
  }

  query(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return this.exclusive(() => this.call({ op: 'query', text, params: [...params] }));
  }

  /** An API read: it queues behind every write waiting, so commits never wait for more than one read. */
  read(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return this.exclusive(() => this.call({ op: 'query', text, params: [...params] }), 'read');
  }

  write(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return this.exclusive(async () => {
      const rows = await this.call({ op: 'query', text, params: [...params] });
      this.dirty = true;
      return rows;
    });
  }

  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.call({ op: 'exec', text: 'BEGIN' });
      let result: T;
      try {
        result = await work({
          query: (text, params = []) => this.call({ op: 'query', text, params: [...params] }),
          copyText: async (table, columns, text) => {
            // The worker protocol carries text; chunks of UTF-8 are joined back into it.
            const data = typeof text === 'string' ? text : Buffer.concat(text).toString('utf8');
            await this.call({ op: 'copy', text: `COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, data });
          },
        });
      } catch (error) {
        try {
          await this.call({ op: 'exec', text: 'ROLLBACK' });
        } catch {
          // The worker is gone or the connection is unusable; the original error says more.
        }
        throw error;
      }
      await this.call({ op: 'exec', text: 'COMMIT' });
      this.dirty = true;
      return result;
    });
  }

  /** Forces WAL to the data files now; also runs on a timer and on close. */
  checkpoint(): Promise<void> {
    return this.exclusive(async () => {
      this.dirty = false;
      await this.call({ op: 'exec', text: 'CHECKPOINT' });
    });
  }

  /** How many fsyncs PostgreSQL made that reached the disk (grows with every commit); for tests. */
  syncCalls(): Promise<number> {
    return this.exclusive(async () => {
      const [row] = await this.call({ op: 'syncCalls' });
      return Number(row?.['count']);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      if (this.dirty && this.dead === undefined) await this.checkpoint();
    } finally {
      this.closed = true;
      // Everything queued before close() still runs; then PGlite closes and the thread ends.
      await this.idle();
      if (this.dead === undefined) await this.call({ op: 'close' }).catch(() => undefined);
      await this.terminate();
    }
  }

  private async terminate(): Promise<void> {
    this.worker.removeAllListeners('exit');
    try {
      await this.worker.terminate();
    } finally {
      this.fail(new Error('store is closed'));
      // Only once the thread that wrote the folder is gone.
      await this.lock.release();
    }
  }

  /**
   * Runs `work` when the connection is free and no earlier work of its level (or any write, for a read)
   * waits; the connection is the worker's single PGlite.
   */
  private exclusive<T>(work: () => Promise<T>, level: 'write' | 'read' = 'write'): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.busy = true;
        let run: Promise<T>;
        try {
          run = work();
        } catch (error) {
          run = Promise.reject(error as Error);
        }
        run.then(resolve, reject).finally(() => this.next());
      };
      if (!this.busy) start();
      else (level === 'write' ? this.writesWaiting : this.readsWaiting).push(start);
    });
  }

  /** Hands the connection to the next waiting write, else the next read. */
  private next(): void {
    this.busy = false;
    const start = this.writesWaiting.shift() ?? this.readsWaiting.shift();
    if (start !== undefined) {
      start();
      return;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private call(request: Request): Promise<SqlRow[]> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = this.nextId;
    this.nextId += 1;
    return new Promise<SqlRow[]>((resolve, reject) => {
      // Not while opening: the first call also waits for PGlite to start (initdb, recovery), which is
      // slow on a large folder and does not spin (a failed start ends the thread with an error).
      const timer = this.opened ? setTimeout(() => this.stuck(request.op), this.callTimeoutMs) : undefined;
      timer?.unref();
      this.pending.set(id, {
        resolve: (rows) => {
          clearTimeout(timer);
          resolve(rows);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      // Referenced only while a request is out, so an idle store never keeps the process alive.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, ...request });
    });
  }

  /** A call went unanswered for callTimeoutMs: stop the thread so callers get errors instead of waiting for ever. */
  private stuck(op: Request['op']): void {
    this.stop(
      new Error(
        `store: PGlite did not answer a ${op} request within ${this.callTimeoutMs} ms ` +
          '(a full disk can leave it spinning); the embedded store is stopped until the hub restarts',
      ),
    );
  }

  /** Stops the store for good (a stuck call, a lost folder lock): callers get `error`, the thread ends. */
  private stop(error: Error): void {
    if (this.dead !== undefined) return;
    this.fail(error);
    this.onBackgroundError(error);
    this.worker.removeAllListeners('exit');
    void this.worker.terminate().catch(() => undefined);
  }

  private settle(answer: Answer): void {
    const waiter = this.pending.get(answer.id);
    if (waiter === undefined) return;
    this.pending.delete(answer.id);
    if (this.pending.size === 0) this.worker.unref();
    if (answer.ok) waiter.resolve(answer.rows ?? []);
    else {
      const error = answer.error ?? { message: 'unknown PGlite worker error' };
      waiter.reject(new PgliteWorkerError(error.message, error.code, error.severity));
    }
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  private async checkpointIfDirty(): Promise<void> {
    // A stopped store has nothing to checkpoint; trying would log the same failure every interval.
    if (!this.dirty || this.closed || this.dead !== undefined) return;
    try {
      await this.checkpoint();
    } catch (error) {
      this.dirty = true;
      this.onBackgroundError(error);
    }
  }
}
