/**
 * The PGlite data-folder lock: one process at a time, stale locks of dead (or reused) pids taken over,
 * and the lock gone after a clean close. Real PGlite stores in temp folders; other processes are real
 * child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { acquireDataDirLock, DATA_DIR_LOCK_FILE, DataDirInUseError } from '../../src/store/data-dir-lock.js';

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
    await writeFile(
      join(dataDir, DATA_DIR_LOCK_FILE),
      JSON.stringify({ pid, started: onLinux ? startTicks(pid) : null, token: 'other' }),
    );
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
    await writeFile(
      join(dataDir, DATA_DIR_LOCK_FILE),
      JSON.stringify({ pid, started: startTicks(pid) - 1, token: 'old' }),
    );
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();
  });

  it('takes over an unreadable lock file (a crash between create and write)', async () => {
    const dataDir = await folder();
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), '');
    const store = await openStore({ kind: 'pglite', dataDir });
    await store.close();
  });

  it('release leaves alone a lock file that another process has since taken', async () => {
    const dataDir = await folder();
    const lock = await acquireDataDirLock(dataDir);
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), JSON.stringify({ pid: 1, started: null, token: 'theirs' }));
    await lock.release();
    expect(JSON.parse(readFileSync(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8')).token).toBe('theirs');
  });
});
