/**
 * Revoked keys. The configuration cannot revoke a key yet, so this builds the pipeline directly over a
 * real PGlite store with a StaticKeyring entry marked revoked: frames under that key are refused as
 * revoked_key (even when perfectly sealed), counted, kept as bounded dead letters, while frames under
 * a live key processed at the same time are stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveDeviceKey, FrameDecoder, sealReadings, type DataFrame, type Reading } from '@sealstream/protocol';
import { createMetrics, type HubMetrics } from '../../src/observability/metrics.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';

const LIVE_SECRET = randomBytes(32);
const REVOKED_SECRET = randomBytes(32);
const RAW_LIMIT = 128;

function decode(bytes: Buffer): DataFrame {
  const [item] = new FrameDecoder().push(bytes);
  if (item === undefined || !item.ok || item.frame.type !== 1) throw new Error('test frame did not decode');
  return item.frame;
}

function readings(device: string, fromSeq: number, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ device, seq: fromSeq + i, ts: now, data: { v: i } }));
}

describe('revoked keys (pipeline over PGlite)', () => {
  let dir: string;
  let store: SqlReadingStore;
  let metrics: HubMetrics;
  let pipeline: Pipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealstream-revoked-'));
    store = await openStore({ kind: 'pglite', dataDir: dir });
    await store.migrate();
    metrics = createMetrics();
    pipeline = new Pipeline({
      store,
      metrics: metrics.pipeline,
      keys: new StaticKeyring([
        { keyId: 'live-key', secret: LIVE_SECRET, devices: 'any' },
        { keyId: 'revoked-key', secret: REVOKED_SECRET, devices: 'any', revoked: true },
      ]),
      limits: {
        maxClockSkewMs: 300_000,
        maxReadingAgeMs: 86_400_000,
        maxReadingFutureMs: 300_000,
        maxReadingsPerFrame: 10_000,
        maxBatchRows: 10_000,
        maxQueuedRows: 100_000,
        highWaterRows: 50_000,
        commitConcurrency: 1,
        commitRetryDeadlineMs: 5_000,
        replayWindowMaxEntries: 100_000,
        deadLetters: { maxRawBytes: RAW_LIMIT, maxPerSecond: 1000 },
      },
    });
    await pipeline.start();
  });
  afterAll(async () => {
    await pipeline?.close();
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('refuses every frame under a revoked key while live-key frames processed alongside are stored', async () => {
    const revokedKey = deriveDeviceKey(REVOKED_SECRET);
    const liveKey = deriveDeviceKey(LIVE_SECRET);
    const attacks = Array.from({ length: 5 }, (_, i) =>
      decode(
        sealReadings(readings('revoked-dev', i * 10, 10), revokedKey, {
          suite: i % 2 === 0 ? 1 : 2,
          keyId: 'revoked-key',
          frameId: i + 1,
        }),
      ),
    );
    const goodFrames = Array.from({ length: 5 }, (_, i) =>
      decode(
        sealReadings(readings('live-dev', i * 20, 20), liveKey, { suite: 1, keyId: 'live-key', frameId: 100 + i }),
      ),
    );
    const answers = await Promise.all(
      [...attacks, ...goodFrames].map((frame) => pipeline.handleDataFrame(frame, 'tcp', '127.0.0.1:1')),
    );
    for (const answer of answers.slice(0, attacks.length)) {
      expect(answer).toMatchObject({ kind: 'error', reason: 'revoked_key' });
    }
    for (const answer of answers.slice(attacks.length)) {
      expect(answer).toEqual({ kind: 'ack', accepted: 20, duplicates: 0, rejected: 0 });
    }

    const text = await metrics.registry.metrics();
    expect(text).toContain('sealstream_readings_rejected_total{source="tcp",reason="revoked_key"} 5');
    expect(text).toContain('sealstream_readings_accepted_total{source="tcp"} 100');

    let letters: Awaited<ReturnType<typeof store.recentDeadLetters>> = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      letters = (await store.recentDeadLetters(100)).filter((l) => l.reason === 'revoked_key');
      if (letters.length >= attacks.length) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(letters).toHaveLength(attacks.length);
    for (const letter of letters) {
      expect(letter.raw.byteLength).toBe(RAW_LIMIT);
      expect(letter.truncated).toBe(true);
    }
    expect(await store.readings('revoked-dev', 0, Date.now() + 60_000, 1000)).toHaveLength(0);
    expect(await store.readings('live-dev', 0, Date.now() + 60_000, 1000)).toHaveLength(100);
  });
});
