/**
 * One process at a time per PGlite data folder. PGlite runs PostgreSQL in single-user mode inside the
 * process: it leaves no postmaster.pid another process could see, so two hubs (or a hub and
 * `sealstream users add`) opening one folder both start, both acknowledge readings, and the last to
 * write wins — acknowledged readings of the other vanish and indexes can be left inconsistent (found by
 * an outside test: a second hub on the same folder lost every reading it acknowledged). The lock is the
 * file `sealstream.lock` in the folder; PostgreSQL ignores foreign files in its data directory.
 *
 * - Created whole and atomically: written to a temporary file, then hard-linked to the lock's name, which
 *   fails if the lock exists. A lock is never seen half-written.
 * - It names its holder: pid, process start time, pid namespace, boot id, host.
 * - A holder in this pid namespace and boot is checked directly: no process with that pid, or one that
 *   started at another time (the pid was reused), means the lock is stale. A holder elsewhere (another
 *   container on the same volume, another machine on a shared disk) cannot be checked that way, so every
 *   holder also beats: it touches the lock every HEARTBEAT_MS. Such a lock is stale once it has not been
 *   touched for STALE_MS; a starter watches it that long before taking it over. A crashed hub in a
 *   container is therefore taken over after ~10 s, not at once.
 * - Takeover moves the stale file aside and checks that what it moved is the stale lock it judged; if
 *   another starter had meanwhile put a fresh lock there, that lock is put back.
 * - The holder reads its lock back on every beat: if the file no longer carries its token (a race lost
 *   despite all this, or someone deleted it by hand), `onLost` tells the store to stop writing. A read
 *   that fails for a reason of this process (no descriptor left under a connection flood) is not a loss
 *   while the holder's touches of the file still succeed.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, readFile, realpath, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const DATA_DIR_LOCK_FILE = 'sealstream.lock';
/** How often a holder touches its lock and checks it still holds it. */
export const HEARTBEAT_MS = 2_000;
/** A lock that cannot be checked by pid is stale once it has not been touched for this long. */
export const STALE_MS = 10_000;
const WATCH_STEP_MS = 500;

/** The folder is open in another live process (or already in this one). */
export class DataDirInUseError extends Error {
  readonly code = 'data_dir_in_use';
  constructor(
    readonly dataDir: string,
    readonly holder: { readonly pid: number; readonly host: string | null } | 'this process' | 'unknown',
  ) {
    super(
      holder === 'this process'
        ? `store: the data folder ${dataDir} is already open in this process`
        : holder === 'unknown'
          ? `store: the data folder ${dataDir} is in use by another process (its lock changed hands while this one started)`
          : `store: the data folder ${dataDir} is in use by process ${holder.pid}` +
            `${holder.host === null ? '' : ` on ${holder.host}`}; stop that hub first ` +
            `(if no Sealstream process has it open, delete ${join(dataDir, DATA_DIR_LOCK_FILE)})`,
    );
    this.name = 'DataDirInUseError';
  }

  /** The holder's pid, when the lock named one. */
  get holderPid(): number | null {
    return typeof this.holder === 'object' ? this.holder.pid : null;
  }
}

export interface DataDirLock {
  /** Stops the heartbeat and removes the lock file if this lock still owns it. Idempotent. */
  release(): Promise<void>;
}

export interface DataDirLockOptions {
  /** Called once if the lock file stops carrying this holder's token; the store must stop writing. */
  readonly onLost?: (error: Error) => void;
  /** How the heartbeat reads the lock file (tests inject failures such as EMFILE); default readFile. */
  readonly readLockFile?: (path: string) => Promise<string>;
}

interface LockContent {
  readonly pid: number;
  /** Process start time in clock ticks since boot (Linux), to tell a reused pid apart; null elsewhere. */
  readonly started: number | null;
  readonly pidNamespace: string | null;
  readonly bootId: string | null;
  readonly host: string | null;
  readonly token: string;
}

/** Folders locked by this process (a second open in the same process is refused too). */
const heldHere = new Set<string>();

export async function acquireDataDirLock(dataDir: string, options: DataDirLockOptions = {}): Promise<DataDirLock> {
  const folder = await realpath(dataDir);
  if (heldHere.has(folder)) throw new DataDirInUseError(folder, 'this process');
  heldHere.add(folder);
  const path = join(folder, DATA_DIR_LOCK_FILE);
  const mine: LockContent = {
    pid: process.pid,
    started: processStartTicks(process.pid),
    pidNamespace: pidNamespace(),
    bootId: bootId(),
    host: hostname(),
    token: randomUUID(),
  };
  try {
    await takeLock(folder, path, mine);
  } catch (error) {
    heldHere.delete(folder);
    throw error;
  }
  let released = false;
  let lost = false;
  let touchedAt = Date.now();
  const read = options.readLockFile ?? ((file: string) => readFile(file, 'utf8'));
  const beat = setInterval(() => {
    void (async () => {
      const now = new Date();
      if (
        await utimes(path, now, now).then(
          () => true,
          () => false,
        )
      )
        touchedAt = Date.now();
      const current = await readLockForBeat(path, read);
      if (released || lost || (current !== 'unreadable' && current?.token === mine.token)) return;
      // A read that failed for want of a descriptor or memory says nothing about who holds the lock (a
      // connection flood filling the process's descriptors once stopped the store here). Touching needs
      // no descriptor, so while the touches go on nobody can judge the lock stale: keep it. Without them
      // for half the stale bound, another host may soon take it over: stop first.
      if (current === 'unreadable' && Date.now() - touchedAt < STALE_MS / 2) return;
      lost = true;
      clearInterval(beat);
      options.onLost?.(
        new Error(`store: the lock of data folder ${folder} is no longer held by this process; writes stopped`),
      );
    })();
  }, HEARTBEAT_MS);
  beat.unref();
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      heldHere.delete(folder);
      // Only our own file: after a lost race another process may own the path.
      if ((await readLock(path))?.token === mine.token) await unlink(path).catch(() => undefined);
    },
  };
}

async function takeLock(folder: string, path: string, mine: LockContent): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (await createWhole(path, mine)) return;
    const holder = await readLock(path);
    const verdict = await judge(path, holder);
    if (verdict === 'gone') continue;
    if (verdict === 'live') {
      throw new DataDirInUseError(folder, holder === undefined ? 'unknown' : { pid: holder.pid, host: holder.host });
    }
    await moveAsideIfStill(path, holder);
  }
  throw new DataDirInUseError(folder, 'unknown');
}

/** Writes the lock under a temporary name and links it into place: false when a lock already exists. */
async function createWhole(path: string, mine: LockContent): Promise<boolean> {
  const temporary = `${path}.${mine.token}.tmp`;
  await writeFile(temporary, JSON.stringify(mine), { flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Moves a stale lock aside, then checks that the file moved is the one judged stale (same token, or
 * both unreadable). If a fresh lock had taken its place meanwhile, that one is put back.
 */
async function moveAsideIfStill(path: string, judged: LockContent | undefined): Promise<void> {
  const aside = `${path}.${randomUUID()}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readLock(aside);
  if (moved?.token !== judged?.token) {
    // Someone else's fresh lock: back in place unless yet another took the name (it then loses its beat).
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

type Verdict = 'live' | 'stale' | 'gone';

/** Whether the lock at `path` (read as `holder`) still has a live holder. */
async function judge(path: string, holder: LockContent | undefined): Promise<Verdict> {
  if (holder !== undefined && sameMachineAndNamespace(holder)) {
    // Our own pid here is a lock this process left (it is not in heldHere): stale.
    if (holder.pid === process.pid) return 'stale';
    return isAlive(holder) ? 'live' : 'stale';
  }
  if (holder !== undefined && holder.host !== null && holder.host === hostname() && isOtherBoot(holder)) {
    return 'stale';
  }
  // Cannot check the holder by pid: watch its heartbeat.
  const first = await mtimeOf(path);
  if (first === null) return 'gone';
  if (Date.now() - first > STALE_MS) return 'stale';
  for (let waited = 0; waited <= STALE_MS; waited += WATCH_STEP_MS) {
    await new Promise((resolve) => setTimeout(resolve, WATCH_STEP_MS));
    const now = await mtimeOf(path);
    if (now === null) return 'gone';
    if (now !== first) return 'live';
    if (Date.now() - now > STALE_MS) return 'stale';
  }
  return 'stale';
}

function sameMachineAndNamespace(holder: LockContent): boolean {
  const ours = { bootId: bootId(), pidNamespace: pidNamespace() };
  return (
    ours.bootId !== null &&
    ours.pidNamespace !== null &&
    holder.bootId === ours.bootId &&
    holder.pidNamespace === ours.pidNamespace
  );
}

function isOtherBoot(holder: LockContent): boolean {
  const ours = bootId();
  return ours !== null && holder.bootId !== null && holder.bootId !== ours;
}

async function mtimeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * The holder's own read of its lock on a beat: the content, undefined when the file is gone or not a
 * lock this code wrote (both mean another process may own the name now), or 'unreadable' when the read
 * failed for a reason of this process (no descriptor left, no memory, an I/O error) and proves nothing.
 */
async function readLockForBeat(
  path: string,
  read: (path: string) => Promise<string>,
): Promise<LockContent | undefined | 'unreadable'> {
  try {
    return parseLock(await read(path));
  } catch (error) {
    return TRANSIENT_READ_ERRORS.has(String((error as NodeJS.ErrnoException).code)) ? 'unreadable' : undefined;
  }
}

/**
 * Read failures that come from this process's state, not from the file: out of descriptors or memory, an
 * interrupted or failing I/O. Anything else (ENOENT, EISDIR, EACCES, ENOTDIR) means the file was removed
 * or replaced: a loss.
 */
const TRANSIENT_READ_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EIO', 'EAGAIN', 'EINTR']);

async function readLock(path: string): Promise<LockContent | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  return parseLock(text);
}

function parseLock(text: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<Record<keyof LockContent, unknown>>;
    if (typeof parsed.pid !== 'number' || !Number.isSafeInteger(parsed.pid) || typeof parsed.token !== 'string') {
      return undefined;
    }
    const text_ = (value: unknown): string | null => (typeof value === 'string' ? value : null);
    return {
      pid: parsed.pid,
      started: typeof parsed.started === 'number' ? parsed.started : null,
      pidNamespace: text_(parsed.pidNamespace),
      bootId: text_(parsed.bootId),
      host: text_(parsed.host),
      token: parsed.token,
    };
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockContent): boolean {
  if (holder.pid <= 0) return false;
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
    const stat_ = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces or parentheses; fields are counted after its closing one.
    const fields = stat_.slice(stat_.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/** This process's pid namespace (e.g. `pid:[4026531836]`), so a pid is only compared within one. */
function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** This boot of the machine (Linux), so a lock from before a reboot is known stale at once. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}
