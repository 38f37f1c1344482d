/**
 * SqlExecutor over embedded PGlite, file-backed in a data folder (the in-memory mode keeps WAL in JS
 * memory and is several times slower). PGlite is a single connection and already runs queries and
 * transactions one at a time behind its own mutex, so statements of different callers never interleave
 * inside a transaction. WAL is trimmed by a CHECKPOINT every `checkpointIntervalMs` when something was
 * written since the last one, and on close.
 *
 * Durable against an OS crash or power loss, not only a killed process: PostgreSQL runs with fsync on and
 * its syncs reach the disk (pglite-durability.ts).
 *
 * `thread: 'worker'` runs PGlite in a worker thread instead (pglite-worker-executor.ts), so its WASM
 * uses the second core; `open` then returns that executor.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { SqlExecutor, SqlRow, SqlTransaction } from './sql-executor.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { describeOpenFailure } from './pglite-open-errors.js';
import { PgliteWorkerExecutor } from './pglite-worker-executor.js';
import { DurableNodeFs, durableStartParams, syncDataFolderOnce } from './pglite-durability.js';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;
/** Where PGlite's WASM runs by default; see the bench figures in docs/benchmarks.md. */
export const DEFAULT_PGLITE_THREAD: PgliteThread = 'worker';

export type PgliteThread = 'main' | 'worker';

export interface PgliteExecutorOptions {
  readonly dataDir: string;
  readonly checkpointIntervalMs?: number;
  /** 'worker' (default): PGlite in its own thread; 'main': on the caller's thread. */
  readonly thread?: PgliteThread;
  /** Worker thread only (see PgliteWorkerExecutor): a call unanswered this long stops the store. */
  readonly callTimeoutMs?: number;
  /** Told about a failed background checkpoint; the next store call will surface a broken database anyway. */
  readonly onBackgroundError?: (error: unknown) => void;
}

export class PgliteExecutor implements SqlExecutor {
  readonly kind = 'pglite' as const;
  private dirty = false;
  private closed = false;
  private lost: Error | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly db: PGlite,
    private readonly lock: DataDirLock,
    private readonly fs: DurableNodeFs,
    checkpointIntervalMs: number,
    private readonly onBackgroundError: (error: unknown) => void,
  ) {
    this.timer = setInterval(() => void this.checkpointIfDirty(), checkpointIntervalMs);
    this.timer.unref();
  }

  static async open(options: PgliteExecutorOptions): Promise<PgliteExecutor | PgliteWorkerExecutor> {
    const interval = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval <= 0) throw new Error('store: checkpointIntervalMs must be positive');
    if ((options.thread ?? DEFAULT_PGLITE_THREAD) === 'worker') {
      return PgliteWorkerExecutor.open({
        dataDir: options.dataDir,
        checkpointIntervalMs: interval,
        ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
        ...(options.onBackgroundError === undefined ? {} : { onBackgroundError: options.onBackgroundError }),
      });
    }
    await mkdir(options.dataDir, { recursive: true });
    // Before PGlite touches the folder: a second process must not write a single page of it.
    let lockLost: (error: Error) => void = () => undefined;
    const lock = await acquireDataDirLock(options.dataDir, { onLost: (error) => lockLost(error) });
    const fs = new DurableNodeFs(options.dataDir);
    let db: PGlite | undefined;
    try {
      db = await PGlite.create({ fs, startParams: durableStartParams() });
      await syncDataFolderOnce(options.dataDir);
    } catch (error) {
      await db?.close().catch(() => undefined);
      await lock.release();
      throw await describeOpenFailure(error, options.dataDir);
    }
    const executor = new PgliteExecutor(db, lock, fs, interval, options.onBackgroundError ?? (() => undefined));
    lockLost = (error) => executor.lose(error);
    return executor;
  }

  /**
   * On the main thread PGlite's own mutex takes calls in arrival order: no priority for commits (the
   * worker mode, the default, has it). The read budget still bounds how many reads are queued.
   */
  read(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    return this.query(text, params);
  }

  async query(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    this.assertOpen();
    // Standalone statements are the store's reads; writes always go through transaction().
    const result = await this.db.query<SqlRow>(text, [...params]);
    return result.rows;
  }

  async write(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    this.assertOpen();
    const result = await this.db.query<SqlRow>(text, [...params]);
    this.dirty = true;
    return result.rows;
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.assertOpen();
    const result = await this.db.transaction(async (tx) =>
      work({
        query: async (text, params = []) => (await tx.query<SqlRow>(text, [...params])).rows,
        copyText: async (table, columns, text) => {
          // PGlite reads COPY input from a Blob handed over as the virtual file /dev/blob.
          await tx.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], {
            blob: new Blob(typeof text === 'string' ? [text] : [...text]),
          });
        },
      }),
    );
    this.dirty = true;
    return result;
  }

  /** Forces WAL to the data files now; also runs on a timer and on close. */
  async checkpoint(): Promise<void> {
    this.assertOpen();
    this.dirty = false;
    await this.db.exec('CHECKPOINT');
  }

  /** How many fsyncs PostgreSQL made that reached the disk (grows with every commit); for tests. */
  syncCalls(): Promise<number> {
    return Promise.resolve(this.fs.syncCalls);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      if (this.dirty && this.lost === undefined) await this.checkpoint();
    } finally {
      this.closed = true;
      try {
        await this.db.close();
      } finally {
        await this.lock.release();
      }
    }
  }

  private async checkpointIfDirty(): Promise<void> {
    if (!this.dirty || this.closed) return;
    try {
      await this.checkpoint();
    } catch (error) {
      this.dirty = true;
      this.onBackgroundError(error);
    }
  }

  /** The folder's lock went to another process: refuse every later call (PGlite cannot be interrupted here). */
  private lose(error: Error): void {
    if (this.lost !== undefined) return;
    this.lost = error;
    this.onBackgroundError(error);
  }

  private assertOpen(): void {
    if (this.lost !== undefined) throw this.lost;
    if (this.closed) throw new Error('store is closed');
  }
}
