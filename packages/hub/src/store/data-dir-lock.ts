/**
 * One process at a time per PGlite data folder. PGlite runs PostgreSQL in single-user mode inside the
 * process: it leaves no postmaster.pid another process could see, so two hubs (or a hub and
 * `sealstream users add`) opening one folder both start, both acknowledge readings, and the last to
 * write wins — acknowledged readings of the other vanish and indexes can be left inconsistent (found by
 * an outside test: a second hub on the same folder lost every reading it acknowledged). The lock is the
 * file `sealstream.lock` in the folder, created exclusively, holding the owner's pid and the start time
 * of that process; PostgreSQL ignores foreign files in its data directory.
 *
 * A lock whose process is gone (kill -9, power loss) is stale and taken over, so a crashed hub restarts
 * without help. "Gone" means: no process with that pid, or (on Linux) a process with that pid that started
 * at another time (the pid was reused). Takeover is remove-then-create; two processes taking over the same
 * stale lock at the same instant could both get past the exclusive create, so the winner reads the file back
 * after a short pause and gives up when it no longer holds its own token.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DATA_DIR_LOCK_FILE = 'sealstream.lock';
/** Pause before reading the lock back after taking it (see the header: simultaneous takeovers). */
const CONFIRM_AFTER_MS = 25;

/** The folder is open in another live process (or already in this one). */
export class DataDirInUseError extends Error {
  readonly code = 'data_dir_in_use';
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | null,
  ) {
    super(
      holderPid === null
        ? `store: the data folder ${dataDir} is already open in this process`
        : `store: the data folder ${dataDir} is in use by process ${holderPid}; stop that hub first ` +
            `(if no Sealstream process has it open, delete ${join(dataDir, DATA_DIR_LOCK_FILE)})`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  /** Removes the lock file if this lock still owns it. Idempotent. */
  release(): Promise<void>;
}

interface LockContent {
  readonly pid: number;
  /** Process start time in clock ticks since boot (Linux), to tell a reused pid apart; null elsewhere. */
  readonly started: number | null;
  readonly token: string;
}

/** Folders locked by this process (a second open in the same process is refused too). */
const heldHere = new Set<string>();

export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const folder = await realpath(dataDir);
  if (heldHere.has(folder)) throw new DataDirInUseError(folder, null);
  heldHere.add(folder);
  const path = join(folder, DATA_DIR_LOCK_FILE);
  const mine: LockContent = { pid: process.pid, started: processStartTicks(process.pid), token: randomUUID() };
  try {
    await takeLock(folder, path, mine);
  } catch (error) {
    heldHere.delete(folder);
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(folder);
      // Only our own file: after a takeover race another process may own the path.
      if ((await readLock(path))?.token === mine.token) await unlink(path).catch(() => undefined);
    },
  };
}

async function takeLock(folder: string, path: string, mine: LockContent): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await writeFile(path, JSON.stringify(mine), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readLock(path);
      if (holder !== undefined && isAlive(holder)) throw new DataDirInUseError(folder, holder.pid);
      // Stale (its process is gone) or unreadable (a crash between create and write): take it over.
      await unlink(path).catch((unlinkError: NodeJS.ErrnoException) => {
        if (unlinkError.code !== 'ENOENT') throw unlinkError;
      });
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, CONFIRM_AFTER_MS));
    const now = await readLock(path);
    if (now?.token === mine.token) return;
    throw new DataDirInUseError(folder, now?.pid ?? null);
  }
  throw new DataDirInUseError(folder, (await readLock(path))?.pid ?? null);
}

async function readLock(path: string): Promise<LockContent | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>;
    if (typeof parsed.pid !== 'number' || !Number.isSafeInteger(parsed.pid) || typeof parsed.token !== 'string') {
      return undefined;
    }
    return {
      pid: parsed.pid,
      started: typeof parsed.started === 'number' ? parsed.started : null,
      token: parsed.token,
    };
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockContent): boolean {
  // Our own pid but not held here: left by an earlier process of a pid namespace (a restarted container).
  if (holder.pid === process.pid || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStartTicks(holder.pid);
  return holder.started === null || started === null || started === holder.started;
}

/** Field 22 of /proc/<pid>/stat (start time since boot, in clock ticks); null where /proc is absent. */
function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces or parentheses; fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}
