/**
 * The embedded store must reach the disk, not only the OS page cache: PostgreSQL runs with fsync on and
 * its syncs go through the hook pglite-durability.ts (and its twin in the worker) gives PGlite's Node
 * file system. A PGlite upgrade that drops the hook's entry point or ignores the start parameters makes
 * these tests fail instead of silently losing acknowledged commits to a power cut.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PgliteExecutor, type PgliteThread } from '../../src/store/pglite-executor.js';
import type { PgliteWorkerExecutor } from '../../src/store/pglite-worker-executor.js';
import { durableStartParams, installFsyncHook, SYNCED_MARKER } from '../../src/store/pglite-durability.js';

describe('PGlite start parameters', () => {
  it("are PGlite's own without -F, with WAL synced by fsync()", () => {
    const params = durableStartParams();
    expect(params).not.toContain('-F');
    expect(params.slice(-2)).toEqual(['-c', 'wal_sync_method=fsync']);
    expect(params.slice(0, -2)).toEqual(PGlite.defaultStartParams.filter((param) => param !== '-F'));
  });

  it('refuses a PGlite module without the NODEFS internals the hook needs', () => {
    expect(() => installFsyncHook({ FS: {}, NODEFS: {} }, () => undefined)).toThrow(/PGlite internals changed/);
  });
});

describe.each<PgliteThread>(['main', 'worker'])('PGlite store durability, thread %s', (thread) => {
  let dataDir: string;
  let executor: PgliteExecutor | PgliteWorkerExecutor;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-durable-'));
    executor = await PgliteExecutor.open({ dataDir, thread });
  });
  afterAll(async () => {
    await executor?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs PostgreSQL with fsync on and WAL synced by fsync()', async () => {
    const [row] = await executor.query(
      "SELECT current_setting('fsync') AS fsync, current_setting('wal_sync_method') AS method",
    );
    expect(row).toEqual({ fsync: 'on', method: 'fsync' });
  });

  it('has synced the new data folder once', async () => {
    await expect(stat(join(dataDir, SYNCED_MARKER))).resolves.toBeDefined();
  });

  it('syncs to the disk on every commit and on a checkpoint', async () => {
    await executor.write('CREATE TABLE durable_probe (n int)');
    const before = await executor.syncCalls();
    await executor.transaction(async (tx) => {
      await tx.query('INSERT INTO durable_probe VALUES (1)');
    });
    const afterCommit = await executor.syncCalls();
    expect(afterCommit).toBeGreaterThan(before);
    await executor.checkpoint();
    expect(await executor.syncCalls()).toBeGreaterThan(afterCommit);
  });
});
