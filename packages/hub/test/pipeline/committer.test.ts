import { describe, expect, it } from 'vitest';
import { Committer, type CommittedBatch } from '../../src/pipeline/committer.js';
import type {
  CommitBatch,
  CommitResult,
  PipelineMetrics,
  ReadingStore,
  VerifiedReading,
} from '../../src/pipeline/ports.js';

/** A store double that records batches; commits succeed unless told to fail. */
class RecordingStore implements Pick<ReadingStore, 'commit'> {
  batches: CommitBatch[] = [];
  failuresLeft = 0;
  private seen = new Set<string>();
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }
  release(): void {
    this.openGate();
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error('connection refused');
    }
    this.batches.push(batch);
    return {
      inserted: batch.readings.map((r) => {
        const key = `${r.device}/${r.seq}/${r.ts}`;
        if (this.seen.has(key)) return false;
        this.seen.add(key);
        return true;
      }),
    };
  }
}

const noMetrics: PipelineMetrics = {
  readingsAccepted: () => undefined,
  readingsDuplicate: () => undefined,
  readingRejected: () => undefined,
  batchCommitted: () => undefined,
  submissionDurable: () => undefined,
  commitFailed: () => undefined,
  queueDepth: () => undefined,
  pausedConnections: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  connectionDropped: () => undefined,
};

function readings(device: string, from: number, count: number): VerifiedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: from + i,
    ts: 1_700_000_000_000 + from + i,
    data: { v: i },
    source: 'tcp' as const,
    receivedAt: 1_700_000_000_000,
  }));
}

function committer(store: RecordingStore, overrides: Partial<ConstructorParameters<typeof Committer>[0]> = {}) {
  const committed: CommittedBatch[] = [];
  const instance = new Committer({
    store: store as unknown as ReadingStore,
    metrics: noMetrics,
    maxBatchRows: 100,
    maxQueuedRows: 1000,
    highWaterRows: 500,
    concurrency: 1,
    retryDeadlineMs: 1000,
    retryInitialMs: 10,
    retryMaxMs: 20,
    onCommitted: (batch) => committed.push(batch),
    ...overrides,
  });
  return { instance, committed };
}

describe('Committer', () => {
  it('commits an idle submission at once and answers inserted and duplicate counts', async () => {
    const store = new RecordingStore();
    const { instance } = committer(store);
    expect(await instance.submit({ readings: readings('a', 0, 3), deadLetters: [] })).toEqual({
      ok: true,
      inserted: 3,
      duplicates: 0,
    });
    expect(await instance.submit({ readings: readings('a', 1, 3), deadLetters: [] })).toEqual({
      ok: true,
      inserted: 1,
      duplicates: 2,
    });
  });

  it('groups submissions that arrive while a commit is in flight, never splitting one', async () => {
    const store = new RecordingStore();
    const { instance } = committer(store);
    store.hold();
    const first = instance.submit({ readings: readings('a', 0, 10), deadLetters: [] });
    await new Promise((resolve) => setImmediate(resolve)); // the first commit has started
    const rest = Array.from({ length: 20 }, (_, i) =>
      instance.submit({ readings: readings('b', i * 10, 10), deadLetters: [] }),
    );
    store.release();
    await Promise.all([first, ...rest]);
    // 1 idle batch of 10, then 200 rows in batches of at most 100 rows.
    expect(store.batches.map((b) => b.readings.length)).toEqual([10, 100, 100]);
  });

  it('reports each durable submission once, timed from queueing (wait plus commit)', async () => {
    const store = new RecordingStore();
    const waits: number[] = [];
    const { instance } = committer(store, { metrics: { ...noMetrics, submissionDurable: (s) => waits.push(s) } });
    store.hold();
    const first = instance.submit({ readings: readings('w', 0, 5), deadLetters: [] });
    await new Promise((resolve) => setImmediate(resolve)); // the first commit has started, held
    const second = instance.submit({ readings: readings('w', 5, 5), deadLetters: [] });
    await new Promise((resolve) => setTimeout(resolve, 60));
    store.release();
    await Promise.all([first, second]);
    expect(waits).toHaveLength(2);
    // Both waited for the held commit; the second also queued behind it.
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(0.05);
    // A submission the store never takes is answered store_unavailable and is not reported as durable.
    store.failuresLeft = 1_000;
    expect(await instance.submit({ readings: readings('w', 10, 1), deadLetters: [] })).toMatchObject({ ok: false });
    expect(waits).toHaveLength(2);
  });

  it('starts a second concurrent commit only once parallelMinRows rows wait', async () => {
    const store = new RecordingStore();
    let started = 0;
    const counting = {
      commit: (batch: CommitBatch) => {
        started += 1;
        return store.commit(batch);
      },
    };
    const { instance } = committer(counting as unknown as RecordingStore, { concurrency: 2, parallelMinRows: 50 });
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    store.hold();
    const first = instance.submit({ readings: readings('p', 0, 10), deadLetters: [] });
    await turn();
    expect(started).toBe(1);
    // 40 rows waiting: below the threshold, so they wait for the commit in flight.
    const small = Array.from({ length: 4 }, (_, i) =>
      instance.submit({ readings: readings('p', 10 + i * 10, 10), deadLetters: [] }),
    );
    await turn();
    expect(started).toBe(1);
    // 60 rows waiting: a second commit starts while the first is still held.
    const more = instance.submit({ readings: readings('p', 50, 20), deadLetters: [] });
    await turn();
    expect(started).toBe(2);
    store.release();
    await Promise.all([first, ...small, more]);
    expect(store.batches.map((b) => b.readings.length)).toEqual([10, 60]);
  });

  it('lets patient submissions join the next commit instead of starting a concurrent one', async () => {
    const store = new RecordingStore();
    let started = 0;
    const counting = {
      commit: (batch: CommitBatch) => {
        started += 1;
        return store.commit(batch);
      },
    };
    const { instance } = committer(counting as unknown as RecordingStore, { concurrency: 2, maxBatchRows: 100 });
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    store.hold();
    // Idle: a patient submission commits at once.
    const first = instance.submit({ readings: readings('q', 0, 10), deadLetters: [], patient: true });
    await turn();
    expect(started).toBe(1);
    // 90 patient rows waiting, below a full batch: no second commit while the first is held.
    const patient = Array.from({ length: 9 }, (_, i) =>
      instance.submit({ readings: readings('q', 10 + i * 10, 10), deadLetters: [], patient: true }),
    );
    await turn();
    expect(started).toBe(1);
    // A submission that is not patient starts the second commit (parallelMinRows 1), taking them along.
    const urgent = instance.submit({ readings: readings('u', 0, 5), deadLetters: [] });
    await turn();
    expect(started).toBe(2);
    store.release();
    await Promise.all([first, ...patient, urgent]);
    expect(store.batches.map((b) => b.readings.length)).toEqual([10, 95]);
  });

  it('starts a concurrent commit for patient submissions once a full batch of them waits', async () => {
    const store = new RecordingStore();
    let started = 0;
    const counting = {
      commit: (batch: CommitBatch) => {
        started += 1;
        return store.commit(batch);
      },
    };
    const { instance } = committer(counting as unknown as RecordingStore, { concurrency: 2, maxBatchRows: 100 });
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    store.hold();
    const first = instance.submit({ readings: readings('f', 0, 10), deadLetters: [], patient: true });
    await turn();
    const waiting = Array.from({ length: 9 }, (_, i) =>
      instance.submit({ readings: readings('f', 10 + i * 10, 10), deadLetters: [], patient: true }),
    );
    await turn();
    expect(started).toBe(1);
    const tenth = instance.submit({ readings: readings('f', 100, 10), deadLetters: [], patient: true });
    await turn();
    expect(started).toBe(2);
    store.release();
    await Promise.all([first, ...waiting, tenth]);
    expect(store.batches.map((b) => b.readings.length)).toEqual([10, 100]);
  });

  it('lets everything submitted in the same turn of the event loop join one batch', async () => {
    const store = new RecordingStore();
    const { instance } = committer(store);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => instance.submit({ readings: readings('c', i * 10, 10), deadLetters: [] })),
    );
    expect(store.batches.map((b) => b.readings.length)).toEqual([80]);
  });

  it('reports saturation above the high-water mark and refuses beyond the bound', async () => {
    const store = new RecordingStore();
    const { instance } = committer(store);
    store.hold();
    const pending = [];
    for (let i = 0; i < 10; i += 1)
      pending.push(instance.submit({ readings: readings('a', i * 100, 100), deadLetters: [] }));
    expect(instance.saturated).toBe(true);
    expect(await instance.submit({ readings: readings('z', 0, 100), deadLetters: [] })).toMatchObject({
      ok: false,
      reason: 'overloaded',
    });
    let drained = false;
    instance.on('drain', () => (drained = true));
    store.release();
    await Promise.all(pending);
    expect(drained).toBe(true);
    expect(instance.saturated).toBe(false);
  });

  it('retries a failing store until it recovers, holding the rows', async () => {
    const store = new RecordingStore();
    store.failuresLeft = 3;
    const { instance, committed } = committer(store);
    expect(await instance.submit({ readings: readings('a', 0, 5), deadLetters: [] })).toMatchObject({
      ok: true,
      inserted: 5,
    });
    expect(committed).toHaveLength(1);
  });

  it('answers store_unavailable after the retry deadline and acknowledges nothing', async () => {
    const store = new RecordingStore();
    store.failuresLeft = 1_000;
    const { instance, committed } = committer(store, { retryDeadlineMs: 50 });
    expect(await instance.submit({ readings: readings('a', 0, 5), deadLetters: [] })).toMatchObject({
      ok: false,
      reason: 'store_unavailable',
    });
    expect(committed).toHaveLength(0);
    expect(instance.queued).toBe(0);
  });

  it('refuses new work once closing and finishes what was queued', async () => {
    const store = new RecordingStore();
    const { instance } = committer(store);
    store.hold();
    const queued = instance.submit({ readings: readings('a', 0, 5), deadLetters: [] });
    const closed = instance.close();
    expect(await instance.submit({ readings: readings('a', 5, 1), deadLetters: [] })).toMatchObject({
      reason: 'shutting_down',
    });
    store.release();
    await closed;
    expect(await queued).toMatchObject({ ok: true, inserted: 5 });
  });
});
