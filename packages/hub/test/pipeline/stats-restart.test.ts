/**
 * The live totals survive a restart of the hub: valid, invalid and the per-reason reject counts are
 * seeded from the store, so a dashboard does not show "0 integrity failures" after a deploy.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';

const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-stats-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function startPipeline(deadLettersPerSecond = 1000): Promise<{
  pipeline: Pipeline;
  store: Awaited<ReturnType<typeof openStore>>;
  stop(): Promise<void>;
}> {
  const store = await openStore({ kind: 'pglite', dataDir });
  await store.migrate();
  const pipeline = new Pipeline({
    store,
    metrics: createMetrics().pipeline,
    keys: new StaticKeyring([]),
    limits: { ...DEFAULT_TEST_LIMITS, deadLetters: { maxRawBytes: 64, maxPerSecond: deadLettersPerSecond } },
  });
  await pipeline.start();
  return {
    pipeline,
    store,
    async stop() {
      await pipeline.close();
      await store.close();
    },
  };
}

it('seeds invalid totals and per-reason reject counts from the store after a restart', async () => {
  const first = await startPipeline();
  const refusal = (reason: 'integrity_failed' | 'unknown_key') => ({
    reason,
    source: 'tcp' as const,
    peer: '127.0.0.1:1',
    device: null,
    detail: 'test',
    raw: new Uint8Array([1]),
  });
  first.pipeline.refuse(refusal('integrity_failed'));
  first.pipeline.refuse(refusal('integrity_failed'));
  first.pipeline.refuse(refusal('unknown_key'));
  expect(first.pipeline.stats().rejectsByReason).toEqual({ integrity_failed: 2, unknown_key: 1 });
  await first.stop(); // commits the queued dead letters

  const second = await startPipeline();
  try {
    const stats = second.pipeline.stats();
    expect(stats.totalInvalid).toBe(3);
    expect(stats.rejectsByReason).toEqual({ integrity_failed: 2, unknown_key: 1 });
  } finally {
    await second.stop();
  }
});

it('stores the counts of refusals over the dead-letter budget, so they too survive a restart', async () => {
  const first = await startPipeline(2);
  const before = first.pipeline.stats();
  for (let i = 0; i < 50; i += 1) {
    first.pipeline.refuse({
      reason: 'replayed_frame',
      source: 'tcp',
      // Two clients: one alone may keep only its share of the budget (pipeline/dead-letter-budget.ts).
      peer: `127.0.0.${1 + (i % 2)}:2`,
      device: i % 2 === 0 ? 'dev-a' : null,
      detail: 'test',
      raw: new Uint8Array([2]),
    });
  }
  expect(first.pipeline.stats().rejectsByReason.replayed_frame).toBe(50);
  await first.stop(); // the counts not kept ride with the last commit

  const second = await startPipeline(2);
  try {
    const stats = second.pipeline.stats();
    expect(stats.rejectsByReason.replayed_frame).toBe(50);
    expect(stats.totalInvalid - before.totalInvalid).toBe(50);
    // Only the budget's worth of bytes was kept.
    const letters = await second.store.recentDeadLetters(100);
    expect(letters.filter((letter) => letter.reason === 'replayed_frame')).toHaveLength(2);
  } finally {
    await second.stop();
  }
});

it('stores the counts of refusals over the budget within about a second even when nothing else commits', async () => {
  const hub = await startPipeline(1);
  try {
    const before = (await hub.store.rejectTotals())['bad_payload'] ?? 0;
    for (let i = 0; i < 20; i += 1) {
      hub.pipeline.refuse({
        reason: 'bad_payload',
        source: 'tcp',
        peer: '127.0.0.1:3',
        device: null,
        detail: 'test',
        raw: new Uint8Array([3]),
      });
    }
    // Without a timer the 19 counts over the budget would wait for the next commit or for close().
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(((await hub.store.rejectTotals())['bad_payload'] ?? 0) - before).toBe(20);
  } finally {
    await hub.stop();
  }
});
