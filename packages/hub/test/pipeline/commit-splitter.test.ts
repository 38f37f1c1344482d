/**
 * A batch the store refuses for one row's data is split, so that row alone is refused and the rest
 * commit: on both real drivers through the Committer (one failed attempt, then the split, never the
 * retry loop), and the splitter's bounds on a store double that refuses by content.
 */
import { describe, expect, it } from 'vitest';
import { Committer, type CommittedBatch, type SubmitResult } from '../../src/pipeline/committer.js';
import { MAX_FAILED_SPLIT_COMMITS, splitRefusedBatch } from '../../src/pipeline/commit-splitter.js';
import type {
  CommitBatch,
  CommitResult,
  PipelineMetrics,
  ReadingStore,
  SignalSummaryRow,
} from '../../src/pipeline/ports.js';
import { StoreError } from '../../src/pipeline/store-error.js';
import { deadLetter, describeEachStore, freshDevice, reading } from '../store/store-fixtures.js';

function countingMetrics(): PipelineMetrics & { failures: number } {
  const metrics = {
    failures: 0,
    readingsAccepted: () => undefined,
    readingsDuplicate: () => undefined,
    readingRejected: () => undefined,
    batchCommitted: () => undefined,
    submissionDurable: () => undefined,
    commitFailed: () => {
      metrics.failures += 1;
    },
    queueDepth: () => undefined,
    pausedConnections: () => undefined,
    connectionOpened: () => undefined,
    connectionClosed: () => undefined,
    connectionDropped: () => undefined,
  };
  return metrics;
}

/** The real store, with every commit's batch size and outcome recorded. */
function recorded(store: ReadingStore): { store: ReadingStore; calls: Array<{ readings: number; ok: boolean }> } {
  const calls: Array<{ readings: number; ok: boolean }> = [];
  const wrapper = Object.create(store) as ReadingStore;
  wrapper.commit = async (batch: CommitBatch): Promise<CommitResult> => {
    try {
      const result = await store.commit(batch);
      calls.push({ readings: batch.readings.length, ok: true });
      return result;
    } catch (error) {
      calls.push({ readings: batch.readings.length, ok: false });
      throw error;
    }
  };
  return { store: wrapper, calls };
}

await describeEachStore('a batch refused for one reading', (ctx) => {
  it('fails once, splits, refuses only the poison readings and commits their neighbours and other submissions', async () => {
    const { store, calls } = recorded(ctx.store);
    const metrics = countingMetrics();
    const committed: CommittedBatch[] = [];
    const committer = new Committer({
      store,
      metrics,
      maxBatchRows: 1000,
      maxQueuedRows: 10_000,
      highWaterRows: 5000,
      concurrency: 1,
      // The hub's default deadline: a retry loop would hold these submissions for 30 s.
      retryDeadlineMs: 30_000,
      onCommitted: (batch) => committed.push(batch),
    });
    const legacyDevice = freshDevice('legacy-line');
    const nativeDevice = freshDevice('native');
    const now = Date.now();
    const line = [
      reading({ device: legacyDevice, seq: 1, ts: now, source: 'legacy', data: { name: 'good 1' } }),
      reading({ device: legacyDevice, seq: 2, ts: now, source: 'legacy', data: { name: 'nul \u0000 here' } }),
      reading({ device: legacyDevice, seq: 3, ts: now, source: 'legacy', data: { name: 'good 2' } }),
      reading({ device: legacyDevice, seq: 4, ts: now, source: 'legacy', data: { name: 'lone \ud800' } }),
      reading({ device: legacyDevice, seq: 5, ts: now, source: 'legacy', data: { name: 'good 3' } }),
    ];
    const frame = [0, 1, 2].map((seq) => reading({ device: nativeDevice, seq, ts: now }));
    const letter = deadLetter({ receivedAt: now, device: nativeDevice, detail: 'kept with the frame' });

    const started = Date.now();
    // Submitted in one turn of the event loop: one batch.
    const [lineAnswer, frameAnswer] = await Promise.all([
      committer.submit({ readings: line, deadLetters: [] }),
      committer.submit({ readings: frame, deadLetters: [letter] }),
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);

    expect(lineAnswer).toMatchObject({ ok: true, inserted: 3, duplicates: 0 });
    const refused = (lineAnswer as Extract<SubmitResult, { ok: true }>).refused ?? [];
    expect(refused.map((r) => r.index)).toEqual([1, 3]);
    for (const refusal of refused) {
      expect(refusal.detail).toMatch(/SQLSTATE 22/);
      expect(refusal.detail).not.toContain('nul');
    }
    expect(frameAnswer).toEqual({ ok: true, inserted: 3, duplicates: 0 });

    // One failed attempt of the whole batch, then parts of it: never the whole batch again.
    expect(calls[0]).toEqual({ readings: 8, ok: false });
    expect(calls.slice(1).every((call) => call.readings < 8)).toBe(true);
    expect(calls.filter((call) => !call.ok).length).toBe(metrics.failures);
    expect(metrics.failures).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(9)) * 2);

    const stored = await ctx.store.readings(legacyDevice, now - 1000, now + 1000, 10);
    expect(stored.map((r) => r.seq).sort()).toEqual([1, 3, 5]);
    expect(await ctx.store.readings(nativeDevice, now - 1000, now + 1000, 10)).toHaveLength(3);
    expect((await ctx.store.recentDeadLetters(5)).some((row) => row.detail === 'kept with the frame')).toBe(true);
    // Every committed part was reported once, so live fan-out and the duplicate window see each reading once.
    expect(committed.flatMap((batch) => batch.readings).length).toBe(6);
    await committer.close();
  });

  it('stores a dead letter whose text holds NUL and unpaired surrogates, cleaned', async () => {
    const at = Date.now();
    const device = 'dev\u0000\ud800';
    await ctx.store.commit({
      readings: [],
      deadLetters: [deadLetter({ receivedAt: at, device, peer: 'p\udc00', detail: 'd\u0000 \ud800x' })],
    });
    const [row] = await ctx.store.recentDeadLetters(1);
    expect(row).toMatchObject({ device: 'dev\uFFFD\uFFFD', peer: 'p\uFFFD', detail: 'd\uFFFD \uFFFDx' });
  });
});

/** A store double that refuses, as data, any batch holding a reading marked poison or a letter not bare. */
function refusingStore(options: { unavailableAfter?: number } = {}) {
  const calls: CommitBatch[] = [];
  return {
    calls,
    commit: (batch: CommitBatch): Promise<CommitResult> => {
      calls.push(batch);
      if (options.unavailableAfter !== undefined && calls.length > options.unavailableAfter) {
        return Promise.reject(new StoreError('store_unavailable', 'store commit failed: ECONNREFUSED'));
      }
      const poisoned =
        batch.readings.some((r) => r.data['poison'] === true) ||
        batch.deadLetters.some((l) => l.detail.includes('poison')) ||
        (batch.signals ?? []).some((signal) => signal.format === 'poison');
      if (poisoned) return Promise.reject(new StoreError('store_refused_data', 'store commit failed: SQLSTATE 22P05'));
      return Promise.resolve({ inserted: batch.readings.map(() => true) });
    },
  };
}

function batchOf(count: number, poisonAt: ReadonlySet<number>): CommitBatch {
  return {
    readings: Array.from({ length: count }, (_, seq) =>
      reading({ device: 'd', seq, ts: 1_700_000_000_000, data: poisonAt.has(seq) ? { poison: true } : { v: seq } }),
    ),
    deadLetters: [],
  };
}

const firstError = new StoreError('store_refused_data', 'store commit failed: SQLSTATE 22P05');

function signalOf(device: string, format = 'xray-sample'): SignalSummaryRow {
  return {
    deviceId: device,
    time: 1_700_000_000_000,
    capturedAt: 1_700_000_000_000,
    receivedAt: 1_700_000_000_001,
    dataLength: 1,
    dataVolume: 10,
    format,
    source: 'amqp',
    correlationId: null,
    payloadSha256: new Uint8Array(32),
  };
}

describe('splitRefusedBatch', () => {
  it('isolates one refused reading among 1000 in about 2·log2(n) commits', async () => {
    const store = refusingStore();
    const committed: CommitBatch[] = [];
    const outcome = await splitRefusedBatch(batchOf(1000, new Set([617])), firstError, {
      commit: store.commit,
      onPartCommitted: (part) => committed.push(part),
    });
    expect(outcome.fates.filter((f) => f.kind === 'inserted')).toHaveLength(999);
    expect(outcome.fates[617]).toMatchObject({ kind: 'refused' });
    expect(outcome.failedCommits).toBeLessThanOrEqual(10);
    expect(store.calls.length).toBeLessThanOrEqual(20);
    expect(committed.reduce((n, part) => n + part.readings.length, 0)).toBe(999);
    expect(outcome.stoppedBy).toBeUndefined();
  });

  it('bounds the failed commits of a batch made of poison and refuses what it could not isolate', async () => {
    const store = refusingStore();
    const all = new Set(Array.from({ length: 500 }, (_, i) => i));
    all.delete(3);
    const outcome = await splitRefusedBatch(batchOf(500, all), firstError, {
      commit: store.commit,
      onPartCommitted: () => undefined,
    });
    // The bound, plus at most one attempt per halving level still on the way down.
    expect(outcome.failedCommits).toBeLessThanOrEqual(MAX_FAILED_SPLIT_COMMITS + Math.ceil(Math.log2(500)));
    expect(outcome.fates.every((f) => f.kind !== 'unresolved')).toBe(true);
    expect(outcome.fates.filter((f) => f.kind === 'refused').length).toBeGreaterThanOrEqual(499);
  });

  it('keeps a refused dead letter bare (fixed text, raw bytes) and commits the rest', async () => {
    const store = refusingStore();
    const batch: CommitBatch = {
      readings: batchOf(4, new Set()).readings,
      deadLetters: [deadLetter({ receivedAt: 1, detail: 'poison text' }), deadLetter({ receivedAt: 2 })],
    };
    const outcome = await splitRefusedBatch(batch, firstError, {
      commit: store.commit,
      onPartCommitted: () => undefined,
    });
    expect(outcome.fates.every((f) => f.kind === 'inserted')).toBe(true);
    expect(outcome.lettersDropped).toBe(0);
    const stored = store.calls.filter(
      (c) => c.deadLetters.length > 0 && !c.deadLetters.some((l) => l.detail.includes('poison')),
    );
    expect(
      stored
        .flatMap((c) => c.deadLetters)
        .map((l) => l.receivedAt)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('reports a signal summary the store refuses alone; the other summaries and the readings commit', async () => {
    const store = refusingStore();
    const batch: CommitBatch = {
      ...batchOf(4, new Set()),
      signals: [signalOf('a'), signalOf('b', 'poison'), signalOf('c')],
    };
    const outcome = await splitRefusedBatch(batch, firstError, {
      commit: store.commit,
      onPartCommitted: () => undefined,
    });
    expect(outcome.fates.every((f) => f.kind === 'inserted')).toBe(true);
    expect(outcome.signalFates).toEqual([
      { kind: 'committed' },
      { kind: 'refused', detail: expect.stringContaining('the store refused this signal summary') as string },
      { kind: 'committed' },
    ]);
    const stored = store.calls.filter((c) => !(c.signals ?? []).some((g) => g.format === 'poison'));
    expect(stored.flatMap((c) => (c.signals ?? []).map((g) => g.deviceId)).sort()).toEqual(['a', 'c']);
  });

  it('stops at a failure that is not about data; the rest stays unresolved', async () => {
    const store = refusingStore({ unavailableAfter: 1 });
    const outcome = await splitRefusedBatch(batchOf(8, new Set([7])), firstError, {
      commit: store.commit,
      onPartCommitted: () => undefined,
    });
    expect(outcome.stoppedBy).toBeInstanceOf(StoreError);
    expect(outcome.fates.slice(0, 4).every((f) => f.kind === 'inserted')).toBe(true);
    expect(outcome.fates.slice(4).every((f) => f.kind === 'unresolved')).toBe(true);
  });
});

describe('Committer on store error codes', () => {
  it('answers store_unavailable for a submission whose summary a split could not commit', async () => {
    // Calls: the whole batch (refused), then the readings half (refused), each reading alone (the
    // poison refused), then the summary: the store is gone by then.
    const store = refusingStore({ unavailableAfter: 4 });
    const committer = new Committer({
      store: store as unknown as ReadingStore,
      metrics: countingMetrics(),
      maxBatchRows: 100,
      maxQueuedRows: 1000,
      highWaterRows: 500,
      concurrency: 1,
      retryDeadlineMs: 30_000,
      onCommitted: () => undefined,
    });
    const good = { ...batchOf(1, new Set()), signals: [signalOf('good')] };
    const poison: CommitBatch = {
      readings: [reading({ device: 'p', seq: 9, ts: 1_700_000_000_000, data: { poison: true } })],
      deadLetters: [],
    };
    const [first, second] = await Promise.all([committer.submit(good), committer.submit(poison)]);
    expect(store.calls).toHaveLength(5);
    // Its reading committed, its summary did not: not durable as a whole, so not acknowledged.
    expect(first).toMatchObject({ ok: false, reason: 'store_unavailable' });
    expect(second).toMatchObject({ ok: true, refused: [{ index: 0 }] });
  });

  it('answers each submission its own summaries the store refused, by index, beside its readings', async () => {
    const store = refusingStore();
    const committer = new Committer({
      store: store as unknown as ReadingStore,
      metrics: countingMetrics(),
      maxBatchRows: 100,
      maxQueuedRows: 1000,
      highWaterRows: 500,
      concurrency: 1,
      retryDeadlineMs: 30_000,
      onCommitted: () => undefined,
    });
    const clean = { ...batchOf(1, new Set()), signals: [signalOf('clean')] };
    const mixed: CommitBatch = {
      readings: [reading({ device: 'm', seq: 3, ts: 1_700_000_000_000, data: { v: 1 } })],
      deadLetters: [],
      signals: [signalOf('m-good'), signalOf('m-bad', 'poison')],
    };
    const [first, second] = await Promise.all([committer.submit(clean), committer.submit(mixed)]);
    expect(first).toEqual({ ok: true, inserted: 1, duplicates: 0 });
    expect(second).toEqual({
      ok: true,
      inserted: 1,
      duplicates: 0,
      refusedSignals: [{ index: 1, detail: expect.stringContaining('signal summary') as string }],
    });
  });

  it('answers store_unavailable at once, without retrying, when the store has a defect', async () => {
    let calls = 0;
    const committer = new Committer({
      store: {
        commit: () => {
          calls += 1;
          return Promise.reject(
            new StoreError('store_defect', 'store commit failed: undefined table (SQLSTATE 42P01)'),
          );
        },
      } as unknown as ReadingStore,
      metrics: countingMetrics(),
      maxBatchRows: 100,
      maxQueuedRows: 1000,
      highWaterRows: 500,
      concurrency: 1,
      retryDeadlineMs: 30_000,
      onCommitted: () => undefined,
    });
    const started = Date.now();
    expect(await committer.submit(batchOf(3, new Set()))).toMatchObject({ ok: false, reason: 'store_unavailable' });
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
