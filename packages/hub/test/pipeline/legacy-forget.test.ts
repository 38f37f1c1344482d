/**
 * Legacy IVs the hub did not take are forgotten in its own window, as native IVs are: a line refused
 * state_unavailable (the shared window could not be reached) or not committed (store down) is taken
 * when it is sent again to the same hub, not refused legacy_replayed_token; a real replay still is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyKey, sealLegacyToken } from '@sealstream/protocol';
import { createMetrics } from '../../src/observability/metrics.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { ReadingStore } from '../../src/pipeline/ports.js';
import type { SharedReplayWindow } from '../../src/pipeline/shared-state-ports.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';

const key = legacyKey('legacy-forget-test-key');

function line(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    sealLegacyToken({ name: `Name ${from + i}`, origin: 'Pune', destination: 'Goa' }, key),
  );
}

describe('legacy IVs not taken are forgotten locally', () => {
  let dataDir: string;
  let store: SqlReadingStore;
  let pipeline: Pipeline;
  let sharedDown = false;
  let storeDown = false;
  const sharedIds = new Set<string>();
  const legacyIvs: SharedReplayWindow = {
    firstSightings: (ids) => {
      if (sharedDown) return Promise.reject(new Error('unreachable'));
      const fresh = ids.map((id) => !sharedIds.has(id));
      for (const id of ids) sharedIds.add(id);
      return Promise.resolve(fresh);
    },
    forget: (ids) => {
      for (const id of ids) sharedIds.delete(id);
      return Promise.resolve();
    },
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-legacy-forget-'));
    store = await openStore({ kind: 'pglite', dataDir });
    await store.migrate();
    const outageStore: ReadingStore = Object.assign(Object.create(store) as ReadingStore, {
      commit: (batch: Parameters<ReadingStore['commit']>[0]) =>
        storeDown ? Promise.reject(new Error('connection refused')) : store.commit(batch),
    });
    pipeline = new Pipeline({
      store: outageStore,
      metrics: createMetrics().pipeline,
      keys: new StaticKeyring([]),
      limits: { ...DEFAULT_TEST_LIMITS, commitRetryDeadlineMs: 100 },
      legacy: { key, device: 'legacy-1', acceptVariants: ['sorted', 'insertion'], replayWindowMs: 3_600_000 },
      shared: { frameIvs: legacyIvs, legacyIvs },
    });
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.close();
    await store?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('takes a line again after it was refused state_unavailable', async () => {
    const tokens = line(0, 3);
    sharedDown = true;
    const first = await pipeline.handleLegacyTokens(tokens, '127.0.0.1:1');
    expect(first).toMatchObject({ ok: true, inserted: 0 });
    sharedDown = false;
    expect(await pipeline.handleLegacyTokens(tokens, '127.0.0.1:1')).toMatchObject({ ok: true, inserted: 3 });
    // A replay now is one.
    expect(await pipeline.handleLegacyTokens(tokens, '127.0.0.1:1')).toMatchObject({ ok: true, inserted: 0 });
  });

  it('takes a line again after it could not be committed', async () => {
    const tokens = line(100, 2);
    storeDown = true;
    expect(await pipeline.handleLegacyTokens(tokens, '127.0.0.1:1')).toMatchObject({ ok: false });
    storeDown = false;
    expect(await pipeline.handleLegacyTokens(tokens, '127.0.0.1:1')).toMatchObject({ ok: true, inserted: 2 });
    expect((await store.totals()).valid).toBe(5);
  });
});
