/**
 * A PGlite worker that stops answering (seen after its disk filled: the thread spins and never replies)
 * must not hold its callers for ever: after callTimeoutMs the store is stopped, every pending and later
 * call fails, close() returns and releases the folder, and the folder opens again (recovery as after a
 * kill). A statement that outlasts the bound stands in for the hang.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PgliteExecutor } from '../../src/store/pglite-executor.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('PGlite worker call bound', () => {
  it('stops a store whose call goes unanswered, fails its callers, and leaves a folder that opens again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-stuck-'));
    dirs.push(dataDir);
    const reported: unknown[] = [];
    const executor = await PgliteExecutor.open({
      dataDir,
      thread: 'worker',
      callTimeoutMs: 2000,
      onBackgroundError: (error) => reported.push(error),
    });
    await executor.write('CREATE TABLE kept (n int)');
    await executor.write('INSERT INTO kept VALUES (1)');

    const started = Date.now();
    await expect(executor.query('SELECT pg_sleep(8)')).rejects.toThrow(/did not answer a query request within/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reported).toHaveLength(1);
    // Later callers fail at once instead of queueing behind the stuck call.
    await expect(executor.query('SELECT 1')).rejects.toThrow(/did not answer/);
    const closing = Date.now();
    await executor.close();
    expect(Date.now() - closing).toBeLessThan(3000);

    const reopened = await PgliteExecutor.open({ dataDir, thread: 'worker' });
    try {
      expect(await reopened.query('SELECT n FROM kept')).toEqual([{ n: 1 }]);
    } finally {
      await reopened.close();
    }
  });
});
