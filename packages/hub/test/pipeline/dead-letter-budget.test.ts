/**
 * The per-second dead-letter budget is shared between peers: a flooding client cannot push out
 * another client's evidence (its letters are kept while it refuses far less), however many connections
 * or ports it uses; the hub-wide cap and the not-kept count are unchanged; the peer map is bounded.
 * The last test runs the checker's scenario through the Pipeline into a real (PGlite) store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { FairDeadLetterBudget, MAX_TRACKED_PEERS, peerKey } from '../../src/pipeline/dead-letter-budget.js';
import { DeadLetterFactory, type Refusal } from '../../src/pipeline/dead-letters.js';
import { StaticKeyring } from '../../src/pipeline/keyring.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../support/ingest-harness.js';

const T = Date.UTC(2026, 11, 5, 12, 0, 0);

function refusal(peer: string, detail = 'tampered'): Refusal {
  return { reason: 'integrity_failed', source: 'tcp', peer, device: null, detail, raw: new Uint8Array([1, 2, 3]) };
}

/** How many of `count` refusals of `peer` the factory keeps. */
function keep(factory: DeadLetterFactory, peer: string, count: number): number {
  let kept = 0;
  for (let i = 0; i < count; i += 1) if (factory.build(refusal(peer)) !== null) kept += 1;
  return kept;
}

describe('DeadLetterFactory: a fair share of the per-second budget', () => {
  it("a flood from one peer does not push out another peer's letters, and every refusal not kept is counted", () => {
    const factory = new DeadLetterFactory({ maxRawBytes: 64, maxPerSecond: 1000 }, () => T);
    const flooder = keep(factory, '203.0.113.9:40000', 30_000);
    const victim = keep(factory, '198.51.100.7:51000', 24);
    expect(victim).toBe(24); // before: 0, the flooder had taken the whole second's budget
    expect(flooder).toBe(200); // a lone peer keeps at most a fifth of the budget
    expect(factory.notKept).toBe(30_000 + 24 - flooder - victim);
  });

  it('one address is one peer whatever its ports (new connections, new HTTP requests)', () => {
    const factory = new DeadLetterFactory({ maxRawBytes: 64, maxPerSecond: 1000 }, () => T);
    let flooder = 0;
    for (let port = 1024; port < 11_024; port += 1) flooder += keep(factory, `203.0.113.9:${port}`, 3);
    expect(flooder).toBe(200);
    expect(keep(factory, '198.51.100.7:51000', 24)).toBe(24);
  });

  it('ten flooding addresses still leave room for a victim; fifty use the budget up, and never more', () => {
    const factory = new DeadLetterFactory({ maxRawBytes: 64, maxPerSecond: 1000 }, () => T);
    let offered = 0;
    let kept = 0;
    const offer = (peer: string, count: number): number => {
      const taken = keep(factory, peer, count);
      offered += count;
      kept += taken;
      return taken;
    };
    for (let i = 1; i <= 10; i += 1) offer(`203.0.113.${i}:4000`, 5000);
    expect(offer('198.51.100.7:51000', 24)).toBeGreaterThanOrEqual(20);
    for (let i = 11; i <= 50; i += 1) offer(`203.0.113.${i}:4000`, 5000);
    expect(kept).toBe(1000);
    expect(offer('192.0.2.1:1', 5)).toBe(0);
    expect(factory.notKept).toBe(offered - kept);
  });

  it('a new second brings a new budget and new shares', () => {
    let now = T;
    const factory = new DeadLetterFactory({ maxRawBytes: 64, maxPerSecond: 100 }, () => now);
    expect(keep(factory, '203.0.113.9:1', 1000)).toBe(20);
    now += 999;
    expect(keep(factory, '203.0.113.9:1', 1000)).toBe(0);
    now += 1;
    expect(keep(factory, '203.0.113.9:1', 1000)).toBe(20);
  });

  it('a budget of one still keeps one letter a second', () => {
    const factory = new DeadLetterFactory({ maxRawBytes: 64, maxPerSecond: 1 }, () => T);
    expect(keep(factory, '203.0.113.9:1', 10)).toBe(1);
    expect(keep(factory, '198.51.100.7:1', 10)).toBe(0);
  });
});

describe('FairDeadLetterBudget: peers and the bound on its map', () => {
  it('keys a peer by its address: IPv4 without the port, IPv6 by /64, IPv4-mapped IPv6 as IPv4', () => {
    expect(peerKey('203.0.113.9:40000')).toBe('203.0.113.9');
    expect(peerKey('[::ffff:203.0.113.9]:40000')).toBe('203.0.113.9');
    expect(peerKey('[2001:db8:1:2::1]:5')).toBe('2001:db8:1:2::/64');
    expect(peerKey('[2001:0DB8:0001:0002:ffff:1:2:3]:5')).toBe('2001:db8:1:2::/64');
    expect(peerKey('[2001:db8::7]:5')).toBe('2001:db8:0:0::/64');
    expect(peerKey('[fe80::1%eth0]:5')).toBe('fe80:0:0:0::/64');
    expect(peerKey('[::1]:5')).toBe('0:0:0:0::/64');
    expect(peerKey('unknown:0')).toBe('unknown');
    // Not an address: kept whole rather than guessed at.
    expect(peerKey('[zz::1::2]:5')).toBe('zz::1::2');
  });

  it('one /64 is one peer', () => {
    const budget = new FairDeadLetterBudget(1000);
    let kept = 0;
    for (let host = 1; host < 5000; host += 1) if (budget.take(`[2001:db8:1:2::${host.toString(16)}]:1`, T)) kept += 1;
    expect(kept).toBe(200);
  });

  it(`tracks at most ${MAX_TRACKED_PEERS} peers a second; newcomers beyond share one entry`, () => {
    const budget = new FairDeadLetterBudget(1_000_000);
    let kept = 0;
    for (let i = 0; i < 3 * MAX_TRACKED_PEERS; i += 1) {
      const peer = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:1`;
      if (budget.take(peer, T)) kept += 1;
    }
    expect(budget.trackedPeers).toBe(MAX_TRACKED_PEERS + 1);
    expect(kept).toBe(3 * MAX_TRACKED_PEERS); // the overflow entry's share is large enough for them all
    budget.take('10.0.0.1:1', T + 1000);
    expect(budget.trackedPeers).toBe(1);
  });
});

describe('the checker scenario through the Pipeline and a real store', () => {
  it("a flood of unknown-key frames from one client leaves a victim's tampered frames stored", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-fair-'));
    const store = await openStore({ kind: 'pglite', dataDir });
    try {
      await store.migrate();
      const pipeline = new Pipeline({
        store,
        metrics: createMetrics().pipeline,
        keys: new StaticKeyring([]),
        limits: { ...DEFAULT_TEST_LIMITS, deadLetters: { maxRawBytes: 64, maxPerSecond: 1000 } },
      });
      await pipeline.start();
      for (let i = 0; i < 3000; i += 1) {
        pipeline.refuse({ ...refusal(`127.0.0.2:${40_000 + (i % 100)}`), reason: 'unknown_key', detail: 'flood' });
      }
      for (let i = 0; i < 24; i += 1) pipeline.refuse(refusal('127.0.0.3:50000', `victim ${i}`));
      expect(pipeline.stats().rejectsByReason).toMatchObject({ unknown_key: 3000, integrity_failed: 24 });
      await pipeline.close();
      const letters = await store.recentDeadLetters(10_000);
      expect(letters.filter((letter) => letter.peer === '127.0.0.3:50000')).toHaveLength(24);
      expect(letters.filter((letter) => letter.reason === 'unknown_key').length).toBeLessThanOrEqual(200);
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
