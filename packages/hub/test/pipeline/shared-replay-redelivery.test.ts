/**
 * Two hubs sharing one replay window (in memory here; Redis in shared-state/two-hubs.test.ts) and one
 * store. A frame the first hub opened and committed, delivered again to the second: over a transport that
 * redelivers by design (MQTT: the broker moved the session after the first hub's connection dropped)
 * it is answered by its readings — duplicates, not a refusal — and a frame the first hub opened but
 * never committed is taken; over TCP the same bytes are a replay.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { SharedReplayWindow } from '../../src/pipeline/shared-state-ports.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';
import { readingsOf, sealedFrame } from '../registry/registry-frames.js';

/** What Redis does for every hub: the first offer of an id wins. */
class SharedSet implements SharedReplayWindow {
  private readonly seen = new Set<string>();
  firstSightings(ids: readonly string[]): Promise<boolean[]> {
    return Promise.resolve(
      ids.map((id) => {
        if (this.seen.has(id)) return false;
        this.seen.add(id);
        return true;
      }),
    );
  }
  forget(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.seen.delete(id);
    return Promise.resolve();
  }
}

const SECRET = randomBytes(32);

describe('a frame delivered again to another hub sharing the replay window', () => {
  let dir: string;
  let store: SqlReadingStore;
  const shared = { frameIvs: new SharedSet(), legacyIvs: new SharedSet() };
  const hubs: Pipeline[] = [];

  const hub = async (): Promise<Pipeline> => {
    const pipeline = new Pipeline({
      store,
      metrics: createMetrics().pipeline,
      keys: new StaticKeyring([{ keyId: 'k', secret: SECRET, devices: 'any' }]),
      limits: DEFAULT_TEST_LIMITS,
      shared,
    });
    await pipeline.start();
    hubs.push(pipeline);
    return pipeline;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealstream-shared-redelivery-'));
    store = await openStore({ kind: 'pglite', dataDir: dir });
    await store.migrate();
  });
  afterAll(async () => {
    for (const pipeline of hubs) await pipeline.close();
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('answers an MQTT redelivery by its readings and refuses the same bytes over TCP', async () => {
    const first = await hub();
    const second = await hub();
    const frame = sealedFrame('k', SECRET.toString('hex'), readingsOf('moved-1', 1, 3));
    expect(await first.handleDataFrame(frame, 'mqtt', 'broker', 'redelivered')).toMatchObject({
      kind: 'ack',
      accepted: 3,
    });
    expect(await second.handleDataFrame(frame, 'mqtt', 'broker', 'redelivered')).toMatchObject({
      kind: 'ack',
      accepted: 0,
      duplicates: 3,
    });
    expect(await second.handleDataFrame(frame, 'tcp', 'device')).toMatchObject({
      kind: 'error',
      reason: 'replayed_frame',
    });
    const stored = await store.readings('moved-1', 0, Date.now() + 60_000, 10);
    expect(stored).toHaveLength(3);
  });
});
