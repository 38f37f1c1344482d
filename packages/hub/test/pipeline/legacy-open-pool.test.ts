/**
 * The legacy open pool (worker threads): answers in call order, a bounded queue whose overflow opens
 * inline, lost workers that lose no line and judge none twice, and lines opened in workers judged
 * exactly as lines opened on the event loop (same readings, same refusals and reasons, replays refused,
 * forged tokens kept out of the replay window).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { legacyKey, sealLegacyToken } from '@sealstream/protocol';
import { createMetrics } from '../../src/observability/metrics.js';
import { Iv16ReplayWindow } from '../../src/pipeline/iv16-replay-window.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';
import {
  answerResults,
  legacyLineOf,
  runLegacyOpenJob,
  type LegacyOpenAnswer,
  type LegacyOpenJob,
} from '../../src/pipeline/legacy-open-job.js';
import { LegacyOpenPool, type LegacyOpenPoolOptions } from '../../src/pipeline/legacy-open-pool.js';
import { LegacyOpener } from '../../src/pipeline/legacy-opener.js';
import { bundledWorker, legacyOpenWorkerUrl } from '../support/legacy-worker-bundle.js';

const key = legacyKey('legacy-open-pool-test-key');
const accept = ['sorted', 'insertion'] as const;

function good(i: number): string {
  return sealLegacyToken({ name: `Name ${i}`, origin: 'Pune', destination: 'Goa' }, key);
}

function line(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => good(from + i));
}

function job(tokens: readonly string[]): LegacyOpenJob {
  return { line: legacyLineOf(tokens), key, accept, device: 'legacy-1', receivedAt: 1_700_000_000_000 };
}

/** Decrypts fine, fails the integrity check. */
function forged(iv = randomBytes(16)): string {
  const plaintext = JSON.stringify({ name: 'Eve', origin: 'Pune', destination: 'Goa', secret_key: '00'.repeat(32) });
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return `${iv.toString('hex')}:${Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('hex')}`;
}

function sealedText(text: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return `${iv.toString('hex')}:${Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]).toString('hex')}`;
}

/** What a caller reads of a line's answer: each token's message or reason and detail, and the COPY rows. */
function view(opened: LegacyOpenAnswer): unknown {
  const results = answerResults(opened).map((r) =>
    r.ok ? { ok: true, message: { ...r.message } } : { ok: false, reason: r.reason, detail: r.detail },
  );
  return { results, rows: opened.rows === null ? null : Buffer.from(opened.rows).toString('utf8') };
}

function oks(opened: LegacyOpenAnswer): boolean[] {
  return answerResults(opened).map((r) => r.ok);
}

let realWorker: URL;
let scriptedWorker: URL;
const pools: LegacyOpenPool[] = [];

function pool(options: Partial<LegacyOpenPoolOptions> & { scripted?: boolean }): LegacyOpenPool {
  const { scripted, ...rest } = options;
  const created = new LegacyOpenPool({ size: 1, workerUrl: scripted === true ? scriptedWorker : realWorker, ...rest });
  pools.push(created);
  return created;
}

function opener(now = 1_700_000_000_000): LegacyOpener {
  return new LegacyOpener({
    key,
    device: 'legacy-1',
    acceptVariants: accept,
    ivWindow: new Iv16ReplayWindow(3_600_000, 100_000, () => now),
    now: () => now,
  });
}

beforeAll(async () => {
  [realWorker, scriptedWorker] = await Promise.all([
    legacyOpenWorkerUrl(),
    bundledWorker('test/support/scripted-legacy-open-worker.ts'),
  ]);
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('LegacyOpenPool', () => {
  it('opens a line exactly as inline opening does', async () => {
    const wide = sealLegacyToken({ name: 'Zoë 😀 \u00e9', origin: '', destination: 'a|b\\"c' }, key);
    const tokens = [...line(20), forged(), 'zz', wide, sealedText('[1,2]'), `${'0'.repeat(32)}:abc`, ''];
    const opened = await pool({}).open(job(tokens));
    const inline = runLegacyOpenJob(job(tokens));
    expect(view(opened)).toEqual(view(inline));
    expect([...opened.ivWords]).toEqual([...inline.ivWords]);
    expect([...opened.tokenEnds]).toEqual([...inline.tokenEnds]);
    expect([...opened.rowEnds]).toEqual([...inline.rowEnds]);
  });

  it('answers in call order when a later line finishes first', async () => {
    const p = pool({ size: 2, maxInFlightPerWorker: 1, scripted: true });
    const order: string[] = [];
    const slow = p.open(job(['SLOW:300', ...line(3)])).then((r) => (order.push('slow'), r));
    const fast = p.open(job(line(3, 10))).then((r) => (order.push('fast'), r));
    const [slowOpened, fastOpened] = await Promise.all([slow, fast]);
    expect(order).toEqual(['slow', 'fast']);
    expect(oks(slowOpened)).toEqual([false, true, true, true]);
    expect(oks(fastOpened).every(Boolean)).toBe(true);
    // Both ran in workers: the fast line was not held back by opening it inline.
    expect(p.stats()).toMatchObject({ workers: 2, openedInline: 0, pending: 0 });
  });

  it('bounds the lines it holds: over the bound a line opens inline, still answered in order', async () => {
    const p = pool({ size: 1, maxQueuedLines: 3, maxInFlightPerWorker: 1, scripted: true });
    const lines = [['SLOW:200', ...line(2)], line(2, 10), line(2, 20), line(2, 30), line(2, 40)];
    const order: number[] = [];
    const answers = lines.map((tokens, i) => p.open(job(tokens)).then((r) => (order.push(i), r)));
    expect(p.stats().pending).toBe(5);
    // Lines 3 and 4 were over the bound of 3 and opened at once, inline; they still wait their turn.
    expect(p.stats().openedInline).toBe(2);
    const opened = await Promise.all(answers);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    opened.forEach((o, i) => expect(view(o)).toEqual(view(runLegacyOpenJob(job(lines[i] as string[])))));
    expect(p.stats()).toMatchObject({ pending: 0, openedInline: 2 });
  });

  for (const failure of ['EXIT', 'THROW'] as const) {
    it(`a worker lost to ${failure} loses no line, answers each once, and is replaced`, async () => {
      const lost: Error[] = [];
      const p = pool({ size: 1, maxInFlightPerWorker: 4, scripted: true, onWorkerLost: (e) => lost.push(e) });
      const lines = [line(3), [failure, ...line(3, 10)], line(3, 20), line(3, 30)];
      const settled: number[] = [];
      const opened = await Promise.all(lines.map((t, i) => p.open(job(t)).then((r) => (settled.push(i), r))));
      expect(settled).toEqual([0, 1, 2, 3]);
      opened.forEach((o, i) => expect(view(o)).toEqual(view(runLegacyOpenJob(job(lines[i] as string[])))));
      expect(lost).toHaveLength(1);
      expect(p.stats()).toMatchObject({ workers: 1, workersLost: 1, pending: 0 });
      // The replacement works: a later line opens in it, not inline.
      const inlineBefore = p.stats().openedInline;
      expect(oks(await p.open(job(line(2, 40)))).every(Boolean)).toBe(true);
      expect(p.stats().openedInline).toBe(inlineBefore);
    });
  }

  it('after too many lost workers, opens inline rather than failing', async () => {
    const p = pool({ size: 1, maxRestarts: 0, scripted: true });
    const first = await p.open(job(['EXIT', ...line(2)]));
    expect(oks(first)).toEqual([false, true, true]);
    expect(p.stats().workers).toBe(0);
    expect(oks(await p.open(job(line(2, 50)))).every(Boolean)).toBe(true);
  });

  it('close() answers every line still held', async () => {
    const p = pool({ size: 1, maxInFlightPerWorker: 1, scripted: true });
    const answers = [p.open(job(['SLOW:300', ...line(1)])), p.open(job(line(2, 60)))];
    await p.close();
    const opened = await Promise.all(answers);
    expect(oks(opened[1] as LegacyOpenAnswer).every(Boolean)).toBe(true);
  });

  it('refuses a missing worker script at construction', () => {
    expect(() => new LegacyOpenPool({ size: 1, workerUrl: new URL('file:///nonexistent/worker.js') })).toThrow(
      /missing/,
    );
  });
});

describe('LegacyOpener with a pool', () => {
  it('judges lines like inline opening: same readings, same refusals and reasons', async () => {
    const replayed = good(1);
    const tokens = [
      replayed,
      good(2),
      forged(),
      'not-a-token',
      `${'g'.repeat(32)}:00`,
      sealedText('{"name":"x"}'),
      replayed,
      good(3),
    ];
    const viaPool = await opener().openLineWith(pool({ size: 2 }), tokens);
    const inline = opener().openLine(tokens);
    expect(viaPool).toEqual(inline);
    expect(viaPool.refused.map((r) => r.reason)).toEqual([
      'legacy_integrity_failed',
      'legacy_bad_token',
      'legacy_bad_token',
      'legacy_bad_json',
      'legacy_replayed_token',
    ]);
    expect(viaPool.readings).toHaveLength(3);
  });

  it('refuses a token replayed on a later line, whichever worker opened each', async () => {
    const o = opener();
    const p = pool({ size: 2, maxInFlightPerWorker: 1, scripted: true });
    const token = good(7);
    // The first line is slow, so the second finishes first in the other worker: arrival order still wins.
    const [first, second] = await Promise.all([
      o.openLineWith(p, ['SLOW:200', token]),
      o.openLineWith(p, [token, good(8)]),
    ]);
    expect(first.readings).toHaveLength(1);
    expect(second.refused.map((r) => r.reason)).toEqual(['legacy_replayed_token']);
    expect(second.readings).toHaveLength(1);
  });

  it('keeps forged tokens out of the replay window', async () => {
    const o = opener();
    const p = pool({});
    // A forged token with the IV of a genuine one must not make the genuine one a "replay".
    const genuine = good(9);
    const fake = forged(Buffer.from(genuine.slice(0, 32), 'hex'));
    const forgedFirst = await o.openLineWith(p, [fake]);
    expect(forgedFirst.refused.map((r) => r.reason)).toEqual(['legacy_integrity_failed']);
    const then = await o.openLineWith(p, [genuine]);
    expect(then.readings).toHaveLength(1);
  });

  it('a lost worker judges each token once: none lost, none a false replay', async () => {
    const o = opener();
    const p = pool({ size: 1, maxInFlightPerWorker: 4, scripted: true });
    const lines = [line(3, 100), ['EXIT', ...line(3, 110)], line(3, 120)];
    const outcomes = await Promise.all(lines.map((t) => o.openLineWith(p, t)));
    expect(outcomes.map((x) => x.readings.length)).toEqual([3, 3, 3]);
    expect(outcomes.flatMap((x) => x.refused.map((r) => r.reason))).toEqual(['legacy_bad_token']);
    // Sent again, every one of them is a replay: each was recorded exactly once.
    const again = await o.openLineWith(
      p,
      lines.flat().filter((t) => t !== 'EXIT'),
    );
    expect(again.readings).toHaveLength(0);
    expect(again.refused.every((r) => r.reason === 'legacy_replayed_token')).toBe(true);
    expect(again.refused).toHaveLength(9);
  });
});

describe('Pipeline with a legacy pool', () => {
  it('close() commits lines that were still being opened in a worker', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-legacy-pool-'));
    const store = await openStore({ kind: 'pglite', dataDir });
    try {
      await store.migrate();
      const pipeline = new Pipeline({
        store,
        metrics: createMetrics().pipeline,
        keys: new StaticKeyring([]),
        limits: DEFAULT_TEST_LIMITS,
        legacy: { key, device: 'legacy-1', acceptVariants: accept, replayWindowMs: 3_600_000 },
        legacyPool: pool({ size: 1, maxInFlightPerWorker: 1, scripted: true }),
      });
      await pipeline.start();
      // Still in the (slow) worker when close() is called: it must be committed, not dropped.
      const handled = pipeline.handleLegacyTokens(['SLOW:300', ...line(5, 200)], '127.0.0.1:1');
      await pipeline.close();
      expect(await handled).toMatchObject({ ok: true, inserted: 5 });
      expect((await store.totals()).valid).toBe(5);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
