/**
 * The PGlite data-folder lock: one process at a time, stale locks of dead (or reused) pids taken over,
 * and the lock gone after a clean close. Real PGlite stores in temp folders; other processes are real
 * child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import {
  acquireDataDirLock,
  DATA_DIR_LOCK_FILE,
  DataDirInUseError,
  HEARTBEAT_MS,
  STALE_MS,
} from '../../src/store/data-dir-lock.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sealstream-lock-'));
  dirs.push(dir);
  return dir;
}

/** A live process that is not this one (a stand-in for another hub). */
async function otherProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  return child;
}

function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

const onLinux = existsSync('/proc/self/stat');

/** What a holder in this pid namespace and boot writes (the fields the lock checks by pid). */
function localHolder(pid: number, started: number | null, token: string): string {
  return JSON.stringify({
    pid,
    started,
    pidNamespace: onLinux ? readlinkSync('/proc/self/ns/pid') : null,
    bootId: onLinux ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : null,
    host: hostname(),
    token,
  });
}

describe('PGlite data-folder lock', () => {
  it.each(['worker', 'main'] as const)('a second open of one folder is refused (%s thread)', async (thread) => {
    const dataDir = await folder();
    const store = await openStore({ kind: 'pglite', dataDir, thread });
    try {
      await expect(openStore({ kind: 'pglite', dataDir, thread })).rejects.toBeInstanceOf(DataDirInUseError);
      // The refused open took nothing away: the first store still writes and reads.
      await store.migrate();
      expect((await store.totals()).valid).toBe(0);
    } finally {
      await store.close();
    }
    expect(existsSync(join(dataDir, DATA_DIR_LOCK_FILE))).toBe(false);
    // Released on close: the folder opens again.
    const again = await openStore({ kind: 'pglite', dataDir, thread });
    await again.close();
  });

  it('refuses a folder another live process holds, naming it, and takes it over once that process is gone', async () => {
    const dataDir = await folder();
    const other = await otherProcess();
    const pid = other.pid as number;
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), localHolder(pid, onLinux ? startTicks(pid) : null, 'other'));
    const refused = await acquireDataDirLock(dataDir).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(DataDirInUseError);
    expect((refused as DataDirInUseError).holderPid).toBe(pid);
    expect((refused as Error).message).toContain(`in use by process ${pid}`);
    expect(JSON.parse(readFileSync(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8')).token).toBe('other');

    await new Promise<void>((resolve) => {
      other.once('exit', () => resolve());
      other.kill('SIGKILL');
    });
    const lock = await acquireDataDirLock(dataDir);
    expect(JSON.parse(readFileSync(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
    expect(existsSync(join(dataDir, DATA_DIR_LOCK_FILE))).toBe(false);
  });

  it.skipIf(!onLinux)('treats a live pid that started at another time as a reused pid (stale lock)', async () => {
    const dataDir = await folder();
    const other = await otherProcess();
    const pid = other.pid as number;
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), localHolder(pid, startTicks(pid) - 1, 'old'));
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();
  });

  it('takes over an unreadable lock file nobody has touched for longer than the stale bound', async () => {
    const dataDir = await folder();
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    await writeFile(path, '');
    const old = new Date(Date.now() - STALE_MS - 5_000);
    await utimes(path, old, old);
    const store = await openStore({ kind: 'pglite', dataDir });
    await store.close();
  });

  it('refuses a lock from another pid namespace (another container) while its holder keeps touching it', async () => {
    const dataDir = await folder();
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    const foreign = JSON.stringify({
      pid: 1,
      started: 5,
      pidNamespace: 'pid:[1]',
      bootId: 'b',
      host: 'c1',
      token: 'x',
    });
    await writeFile(path, foreign);
    const beat = setInterval(() => {
      const now = new Date();
      void utimes(path, now, now);
    }, 200);
    try {
      const refused = await acquireDataDirLock(dataDir).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(DataDirInUseError);
      expect((refused as Error).message).toContain('in use by process 1 on c1');
    } finally {
      clearInterval(beat);
    }
  });

  it('takes over a lock from another pid namespace whose holder stopped touching it', async () => {
    const dataDir = await folder();
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    await writeFile(path, JSON.stringify({ pid: 1, pidNamespace: 'pid:[1]', bootId: 'b', host: 'c1', token: 'x' }));
    const old = new Date(Date.now() - STALE_MS - 1_000);
    await utimes(path, old, old);
    const lock = await acquireDataDirLock(dataDir);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('tells its holder when the lock file stops carrying its token', async () => {
    const dataDir = await folder();
    const lost: Error[] = [];
    const lock = await acquireDataDirLock(dataDir, { onLost: (error) => lost.push(error) });
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), localHolder(1, null, 'theirs'));
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 2 + 500));
    expect(lost).toHaveLength(1);
    expect(lost[0]?.message).toMatch(/no longer held by this process/);
    await lock.release();
  });

  it('keeps the lock through beats that cannot read the file (no descriptor left), and still sees a real loss', async () => {
    const dataDir = await folder();
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    const lost: Error[] = [];
    let failReads = true;
    const emfile = Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    const lock = await acquireDataDirLock(dataDir, {
      onLost: (error) => lost.push(error),
      // Stands in for a descriptor flood, which a test process cannot cause safely.
      readLockFile: (file) => (failReads ? Promise.reject(emfile) : readFile(file, 'utf8')),
    });
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 2 + 500));
    expect(lost).toHaveLength(0);
    failReads = false;
    await writeFile(path, localHolder(1, null, 'theirs'));
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 500));
    expect(lost).toHaveLength(1);
    await lock.release();
  });

  it('takes a lock file replaced by something unreadable (a directory) for a loss', async () => {
    const dataDir = await folder();
    const path = join(dataDir, DATA_DIR_LOCK_FILE);
    const lost: Error[] = [];
    const lock = await acquireDataDirLock(dataDir, { onLost: (error) => lost.push(error) });
    const aside = `${path}.aside`;
    await mkdir(aside);
    await rename(path, `${path}.old`);
    await rename(aside, path);
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 500));
    expect(lost).toHaveLength(1);
    await lock.release();
    await rmdir(path);
  });

  it('a store whose folder lock was taken stops writing', async () => {
    const dataDir = await folder();
    const store = await openStore({ kind: 'pglite', dataDir });
    try {
      await store.migrate();
      await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), localHolder(1, null, 'theirs'));
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 2 + 500));
      await expect(store.totals()).rejects.toThrow(/no longer held by this process/);
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it('release leaves alone a lock file that another process has since taken', async () => {
    const dataDir = await folder();
    const lock = await acquireDataDirLock(dataDir);
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), localHolder(1, null, 'theirs'));
    await lock.release();
    expect(JSON.parse(readFileSync(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8')).token).toBe('theirs');
  });
});
