/**
 * Durability of the embedded PGlite store against an OS crash or power loss (a killed process loses
 * nothing either way: PGlite's writes reach the OS page cache at once). Owns the three pieces PGlite
 * 0.5.16 lacks, in the main-thread mode; the worker thread runs a JavaScript twin of the hook
 * (pglite-worker-source.ts), and the tests count hook calls in both modes so neither can drift away:
 *
 * - Start parameters: PGlite's defaults start PostgreSQL with `-F` (fsync off). Without it, every commit
 *   flushes WAL and every checkpoint syncs the data files it wrote before recycling WAL.
 *   `wal_sync_method=fsync` because Emscripten's fdatasync() is a stub that returns 0 without reaching any
 *   file system, while fsync() reaches the stream's `stream_ops.fsync` (checkpoints' data-file syncs and
 *   the directory syncs of durable renames go through pg_fsync, i.e. fsync(), as well).
 * - The hook: PGlite's Node file system (Emscripten's NODEFS) has no `stream_ops.fsync`, so fsync() did
 *   nothing. The hook syncs the real file descriptor.
 * - A one-time sync of the whole data folder: PGlite builds a new cluster with initdb in memory and
 *   copies it into the folder without any fsync, and folders written by builds before this one were
 *   never synced. PostgreSQL syncs the whole folder itself only before crash recovery.
 */
import { fdatasyncSync, fsyncSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** Left in the data folder once all of it has been synced; PostgreSQL ignores files it does not know. */
export const SYNCED_MARKER = 'sealstream_synced';
/** Files synced at once by the one-time sync; bounds the open descriptors. */
const SYNC_CONCURRENCY = 8;

/** PGlite's own start parameters without `-F`, plus the one WAL sync method that reaches the disk. */
export function durableStartParams(defaults: readonly string[] = PGlite.defaultStartParams): string[] {
  return [...defaults.filter((param) => param !== '-F'), '-c', 'wal_sync_method=fsync'];
}

/** The parts of PGlite's Emscripten module the hook touches (not in PGlite's published types). */
interface NodefsStream {
  readonly nfd?: number;
  readonly node: { readonly mode: number };
}
interface NodefsModule {
  readonly FS: { isDir(mode: number): boolean };
  readonly NODEFS: {
    readonly stream_ops: { fsync?: (stream: NodefsStream) => number };
    /** Turns a Node error into the errno PostgreSQL sees (which PANICs on a failed WAL or data sync). */
    tryFSOperation<T>(operation: () => T): T;
  };
}

/**
 * Gives NODEFS the fsync it lacks. fdatasync for files: it flushes the data and the size a later read
 * needs, which is what PostgreSQL asks of WAL (its Linux default is fdatasync) and of data files; fsync
 * for directories, whose entries are the point of syncing them. Throws when PGlite's internals moved,
 * so a PGlite upgrade cannot silently open a store without durability.
 */
export function installFsyncHook(mod: unknown, onSync: () => void): void {
  const { FS, NODEFS } = (mod ?? {}) as Partial<NodefsModule>;
  if (
    typeof NODEFS?.stream_ops !== 'object' ||
    typeof NODEFS.tryFSOperation !== 'function' ||
    typeof FS?.isDir !== 'function'
  ) {
    throw new Error('store: PGlite internals changed (NODEFS); cannot make the data folder durable');
  }
  NODEFS.stream_ops.fsync = (stream) => {
    NODEFS.tryFSOperation(() => {
      // NODEFS opens every file and directory with a real descriptor; a missing one fails loudly here.
      const fd = stream.nfd as number;
      if (FS.isDir(stream.node.mode)) fsyncSync(fd);
      else fdatasyncSync(fd);
    });
    onSync();
    return 0;
  };
}

/** PGlite's Node file system with the fsync hook; `syncCalls` counts the syncs that reached the disk. */
export class DurableNodeFs extends NodeFS {
  syncCalls = 0;

  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        preRun: [
          ...(emscriptenOpts.preRun ?? []),
          (mod) =>
            installFsyncHook(mod, () => {
              this.syncCalls += 1;
            }),
        ],
      },
    };
  }
}

/**
 * Syncs every file and directory of an open store's data folder (and the folder's own entry) once, then
 * leaves SYNCED_MARKER so later opens skip it. Runs before the store answers its first caller, while
 * PGlite is idle. A crash before the marker is written just repeats it at the next open.
 */
export async function syncDataFolderOnce(dataDir: string): Promise<void> {
  const root = resolve(dataDir);
  const marker = join(root, SYNCED_MARKER);
  if (await exists(marker)) return;
  const files: string[] = [];
  const dirs: string[] = [];
  await collect(root, files, dirs);
  await forEachBounded(files, (path) => syncPath(path, false));
  await forEachBounded(dirs, (path) => syncPath(path, true));
  try {
    await syncPath(dirname(root), true);
  } catch {
    // The parent may not be readable by this user; the folder's entry then stays as durable as its creator made it.
  }
  const handle = await open(marker, 'w');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncPath(root, true);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function collect(dir: string, files: string[], dirs: string[]): Promise<void> {
  dirs.push(dir);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await collect(path, files, dirs);
    else if (entry.isFile()) files.push(path);
  }
}

async function syncPath(path: string, isDir: boolean): Promise<void> {
  const handle = await open(path, 'r');
  try {
    if (isDir) await handle.sync();
    else await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function forEachBounded(paths: readonly string[], work: (path: string) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next] as string;
      next += 1;
      await work(path);
    }
  };
  await Promise.all(Array.from({ length: SYNC_CONCURRENCY }, lane));
}
