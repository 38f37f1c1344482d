/**
 * Metrics per device are bounded: a reading that would give its device more distinct metric names than
 * the bound is refused `too_many_metrics` (counted, dead-lettered) while the rest commit, and the bound
 * holds across a restart (the names come back from the store's device_metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import type { KeyEntry } from '../../src/pipeline/keyring.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { MetricBound } from '../../src/pipeline/metric-bound.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { VerifiedReading } from '../../src/pipeline/ports.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';
import {
  dropTestSchema,
  failIfRequired,
  pgAvailability,
  pgRequired,
  pgTestUrl,
  uniqueTestSchema,
} from '../support/postgres.js';

const at = Date.now();
const reading = (device: string, seq: number, data: Record<string, unknown>): VerifiedReading => ({
  device,
  seq,
  ts: at,
  data,
  source: 'tcp',
  receivedAt: at,
});

describe('MetricBound', () => {
  it('admits names up to the bound, then refuses readings that add one; known names still pass', async () => {
    const loads: string[] = [];
    const bound = new MetricBound({
      maxPerDevice: 3,
      load: (device) => {
        loads.push(device);
        return Promise.resolve(device === 'old' ? ['a', 'b', 'c'] : []);
      },
    });
    const first = await bound.check([
      reading('new', 1, { a: 1, b: 2 }),
      reading('new', 2, { c: 3, d: 4 }),
      reading('new', 3, { c: 3, label: 'text is no metric' }),
      reading('old', 1, { a: 1 }),
      reading('old', 2, { z: 1 }),
    ]);
    expect(first.admitted.map((r) => `${r.device}/${r.seq}`)).toEqual(['new/1', 'new/3', 'old/1']);
    expect(first.refused.map((r) => [r.reason, r.device])).toEqual([
      ['too_many_metrics', 'new'],
      ['too_many_metrics', 'old'],
    ]);
    expect(JSON.parse(Buffer.from(first.refused[0]?.raw ?? []).toString())).toMatchObject({ seq: 2 });
    const second = await bound.check([reading('new', 4, { d: 1 }), reading('new', 5, { a: 9, b: 9, c: 9 })]);
    expect(second.admitted.map((r) => r.seq)).toEqual([5]);
    expect(loads).toEqual(['new', 'old']);
  });

  it('keeps at most maxCachedNames names in memory, forgetting the least recently used devices', async () => {
    const bound = new MetricBound({ maxPerDevice: 10, maxCachedNames: 20, load: () => Promise.resolve([]) });
    for (let d = 0; d < 10; d += 1) {
      await bound.check([reading(`d${d}`, 1, Object.fromEntries([...Array(5).keys()].map((i) => [`m${i}`, i])))]);
    }
    expect(bound.cacheSize.names).toBeLessThanOrEqual(20);
    expect(bound.cacheSize.devices).toBe(4);
  });
});

const availability = await pgAvailability();
const skip = !availability.available && !pgRequired();
if (skip) console.warn(`[pipeline tests] metric bound skipped: ${availability.available ? '' : availability.reason}`);

describe.skipIf(skip)(`metric bound through the pipeline and store${skip ? ' (skipped)' : ''}`, () => {
  const schema = uniqueTestSchema();
  const entry: KeyEntry = {
    keyId: 'k1',
    key: undefined as unknown as KeyEntry['key'],
    secret: new Uint8Array(32),
    devices: 'any',
    revoked: false,
  };
  const open = async (): Promise<{ store: SqlReadingStore; pipeline: Pipeline }> => {
    const store = await openStore({ kind: 'postgres', url: pgTestUrl(), schema, poolSize: 2 });
    await store.migrate();
    const pipeline = new Pipeline({
      store,
      metrics: createMetrics().pipeline,
      keys: new StaticKeyring([]),
      limits: DEFAULT_TEST_LIMITS,
      metricBound: { maxPerDevice: 4, load: (device, limit) => store.deviceMetricNames(device, limit) },
    });
    await pipeline.start();
    return { store, pipeline };
  };

  beforeAll(() => failIfRequired(availability));
  afterAll(async () => {
    if (availability.available) await dropTestSchema(schema);
  });

  it('refuses readings past the bound with too_many_metrics, dead-letters them, and holds after a restart', async () => {
    const first = await open();
    const send = (p: Pipeline, seq: number, data: Record<string, unknown>) =>
      p.handleAuthenticatedReadings([{ device: 'bomb-1', seq, ts: Date.now(), data }], entry, 'http', '127.0.0.1:9');
    expect(await send(first.pipeline, 1, { a: 1, b: 2, c: 3 })).toMatchObject({ kind: 'ack', accepted: 1 });
    expect(await send(first.pipeline, 2, { a: 1, d: 4, e: 5 })).toMatchObject({
      kind: 'ack',
      accepted: 0,
      rejected: 1,
    });
    expect(await send(first.pipeline, 3, { d: 4 })).toMatchObject({ kind: 'ack', accepted: 1 });
    expect(first.pipeline.stats().rejectsByReason).toEqual({ too_many_metrics: 1 });
    await first.pipeline.close();
    await first.store.flushRollups();
    const letters = await first.store.deadLetterPage({
      filter: { reason: 'too_many_metrics' },
      limit: 10,
      before: null,
    });
    expect(letters.items.map((l) => l.device)).toEqual(['bomb-1']);
    expect(await first.store.deviceMetricNames('bomb-1', 10)).toEqual(['a', 'b', 'c', 'd']);
    await first.store.close();

    const second = await open();
    try {
      expect(await send(second.pipeline, 4, { x: 1 })).toMatchObject({ kind: 'ack', accepted: 0, rejected: 1 });
      expect(await send(second.pipeline, 5, { a: 7, d: 8 })).toMatchObject({ kind: 'ack', accepted: 1 });
    } finally {
      await second.pipeline.close();
      await second.store.close();
    }
  }, 60_000);
});
