/**
 * The read budget: reads beyond its slots wait in a bounded queue for a bounded time and are then
 * refused (ReadsBusyError), never left waiting for ever; on PGlite's one connection a commit goes before
 * every read that is waiting.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadBudget, ReadsBusyError } from '../../src/store/read-budget.js';
import { PgliteWorkerExecutor } from '../../src/store/pglite-worker-executor.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('ReadBudget', () => {
  it('runs at most `concurrency` reads, queues `maxWaiting` more and refuses the next at once', async () => {
    const budget = new ReadBudget({ concurrency: 1, maxWaiting: 1, maxWaitMs: 5_000 });
    const gate = deferred();
    const first = budget.run(() => gate.promise.then(() => 'first'));
    const second = budget.run(() => Promise.resolve('second'));
    expect(budget.load).toEqual({ running: 1, waiting: 1 });
    const third = budget.run(() => Promise.resolve('third'));
    await expect(third).rejects.toMatchObject({ name: 'ReadsBusyError', why: 'queue_full', retryAfterSeconds: 5 });
    gate.resolve();
    expect(await first).toBe('first');
    expect(await second).toBe('second');
    expect(budget.load).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses a read that waited longer than maxWaitMs, and frees its place in the queue', async () => {
    const budget = new ReadBudget({ concurrency: 1, maxWaiting: 4, maxWaitMs: 50 });
    const gate = deferred();
    const holder = budget.run(() => gate.promise);
    const started = Date.now();
    const waiter = budget.run(() => Promise.resolve('never'));
    await expect(waiter).rejects.toBeInstanceOf(ReadsBusyError);
    await expect(waiter).rejects.toMatchObject({ why: 'wait_timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(budget.load.waiting).toBe(0);
    gate.resolve();
    await holder;
    // A failing read gives its slot back.
    await expect(budget.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await budget.run(() => Promise.resolve(7))).toBe(7);
  });
});

describe('PGlite worker: commits before waiting reads', () => {
  let dataDir: string;
  let executor: PgliteWorkerExecutor;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-priority-'));
    executor = await PgliteWorkerExecutor.open({ dataDir, checkpointIntervalMs: 60_000 });
    await executor.write('CREATE TABLE t (x int)');
  }, 120_000);

  afterAll(async () => {
    await executor?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a write queued behind several reads runs right after the read that holds the connection', async () => {
    const order: string[] = [];
    const note = (name: string) => () => order.push(name);
    // A read long enough that the rest are queued while it runs.
    const slow = 'SELECT count(*) FROM generate_series(1, 600000)';
    const reads = [1, 2, 3, 4].map((n) => executor.read(slow).then(note(`read${n}`)));
    const write = executor.write('INSERT INTO t VALUES (1)').then(note('write'));
    const transaction = executor
      .transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (2)');
      })
      .then(note('transaction'));
    await Promise.all([...reads, write, transaction]);
    // FIFO would give read1..read4, write, transaction.
    expect(order).toEqual(['read1', 'write', 'transaction', 'read2', 'read3', 'read4']);
  }, 120_000);
});
