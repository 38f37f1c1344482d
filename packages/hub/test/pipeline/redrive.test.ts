/**
 * Re-driving dead letters through a real pipeline over real PGlite: a frame refused for a key the hub
 * did not have is accepted once the key is configured (then a duplicate); a tampered frame is refused
 * again without a new dead letter; stream-level refusals cannot be re-driven.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import type { DeadLetterRow } from '../../src/pipeline/ports.js';
import { openRegistryFixture } from '../support/registry-fixture.js';
import { readingsOf, sealedFrame } from '../registry/registry-frames.js';

const LATE_SECRET = randomBytes(32);

describe('dead-letter re-drive (pipeline over PGlite)', () => {
  let dir: string;
  let store: SqlReadingStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealstream-redrive-'));
    store = await openStore({ kind: 'pglite', dataDir: dir });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const letters = async (): Promise<DeadLetterRow[]> =>
    (await store.deadLetterPage({ filter: {}, limit: 100, before: null })).items;

  it('a frame refused as unknown_key is accepted after the key is configured, then is a duplicate', async () => {
    const hubWithoutKey = await openRegistryFixture(store);
    const good = sealedFrame('late-key', LATE_SECRET.toString('hex'), readingsOf('late-dev', 1, 4));
    const tamperedBytes = Buffer.from(
      sealedFrame('late-key', LATE_SECRET.toString('hex'), readingsOf('late-dev', 100, 1)).raw,
    );
    tamperedBytes[tamperedBytes.length - 1] = (tamperedBytes[tamperedBytes.length - 1] ?? 0) ^ 1;
    expect(await hubWithoutKey.pipeline.handleDataFrame(good, 'tcp', 'p')).toMatchObject({ reason: 'unknown_key' });
    hubWithoutKey.pipeline.refuse({
      reason: 'unknown_key',
      source: 'tcp',
      peer: 'p',
      device: null,
      detail: 'tampered copy',
      raw: tamperedBytes,
    });
    hubWithoutKey.pipeline.refuse({
      reason: 'frame_too_large',
      source: 'tcp',
      peer: 'p',
      device: null,
      detail: 'length prefix',
      raw: Buffer.from([0xff, 0xff, 0xff, 0xff]),
    });
    await hubWithoutKey.pipeline.close();
    const stored = await letters();
    const original = stored.find((l) => l.detail !== 'tampered copy' && l.reason === 'unknown_key');
    const tampered = stored.find((l) => l.detail === 'tampered copy');
    const tooLarge = stored.find((l) => l.reason === 'frame_too_large');
    if (original === undefined || tampered === undefined || tooLarge === undefined) throw new Error('letters missing');

    const fixedHub = await openRegistryFixture(store, {
      configKeys: [{ keyId: 'late-key', secret: LATE_SECRET, devices: ['late-dev'] }],
    });
    try {
      expect(await fixedHub.pipeline.redrive(original)).toMatchObject({ outcome: 'accepted', accepted: 4 });
      expect(await fixedHub.pipeline.redrive(original)).toMatchObject({ outcome: 'duplicate', duplicates: 4 });
      const rows = await store.readingPage({
        device: 'late-dev',
        fromMs: 0,
        toMs: Date.now() + 60_000,
        limit: 10,
        after: null,
      });
      expect(rows.items.map((r) => r.seq)).toEqual([1, 2, 3, 4]);

      const countBefore = stored.length;
      expect(await fixedHub.pipeline.redrive(tampered)).toMatchObject({
        outcome: 'refused',
        reason: 'integrity_failed',
      });
      expect(await fixedHub.pipeline.redrive(tooLarge)).toMatchObject({ outcome: 'not_redrivable' });
      await fixedHub.pipeline.close();
      expect((await letters()).length).toBe(countBefore);
    } finally {
      await fixedHub.pipeline.close();
    }
  });
});
