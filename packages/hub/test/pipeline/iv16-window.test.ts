/**
 * The legacy replay window over 16-byte IVs: the same answers as a plain Set with the same generations,
 * also when IVs collide in the table (a fixed seed and crafted inputs), grow it, or fill it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Iv16ReplayWindow } from '../../src/pipeline/iv16-replay-window.js';
import { Iv16Set, iv16Hash } from '../../src/pipeline/iv16-set.js';
import { seqFromIv, seqFromIvWords } from '../../src/pipeline/legacy-opener.js';

const SEED = 0x5eed;

/** First words w such that IV (w, 1, 2, 3) lands on the same home slot of a 4096-slot table. */
function colliding(seed: number, count: number): number[] {
  const found: number[] = [];
  const home = iv16Hash(seed, 1, 1, 2, 3) & 4095;
  for (let w = 1; found.length < count; w += 1) if ((iv16Hash(seed, w, 1, 2, 3) & 4095) === home) found.push(w);
  return found;
}

const hex = (words: readonly number[]): string => words.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');

/** A Set of hex strings with the same generations: what IvReplayWindow does, as the reference. */
class ReferenceWindow {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt: number;
  constructor(
    private readonly generationMs: number,
    private readonly max: number,
    private readonly now: () => number,
  ) {
    this.rotatedAt = now();
  }
  firstSighting(id: string): boolean {
    if (this.now() - this.rotatedAt >= this.generationMs) this.rotate();
    if (this.current.has(id) || this.previous.has(id)) return false;
    if (this.current.size >= this.max) this.rotate();
    this.current.add(id);
    return true;
  }
  private rotate(): void {
    this.previous = this.current;
    this.current = new Set();
    this.rotatedAt = this.now();
  }
}

describe('Iv16Set', () => {
  it('remembers every IV through growth, including the all-zero IV', () => {
    const set = new Iv16Set(100_000, 12345);
    const ivs: number[][] = [[0, 0, 0, 0]];
    for (let i = 1; i < 50_000; i += 1) ivs.push([i * 2654435761, i, 0, i % 7]);
    // One expect per check would dominate the run time; count instead.
    expect(ivs.filter((iv) => set.add(iv[0]! >>> 0, iv[1]!, iv[2]!, iv[3]!) === 'added')).toHaveLength(ivs.length);
    expect(set.size).toBe(ivs.length);
    expect(ivs.filter((iv) => set.has(iv[0]! >>> 0, iv[1]!, iv[2]!, iv[3]!))).toHaveLength(ivs.length);
    for (const iv of ivs.slice(0, 100)) expect(set.add(iv[0]! >>> 0, iv[1]!, iv[2]!, iv[3]!)).toBe('present');
    expect(set.has(1, 2, 3, 4)).toBe(false);
    set.clear();
    expect(set.size).toBe(0);
    expect(set.has(0, 0, 0, 0)).toBe(false);
    expect(set.has(ivs[5]![0]! >>> 0, ivs[5]![1]!, 0, ivs[5]![3]!)).toBe(false);
  });

  it('reports full when a probe run is too long, and still finds what it holds', () => {
    const collisions = colliding(SEED, 200);
    const set = new Iv16Set(2048, SEED);
    const outcomes = collisions.map((w) => set.add(w, 1, 2, 3));
    expect(outcomes.slice(0, 128).every((o) => o === 'added')).toBe(true);
    expect(outcomes.slice(128).every((o) => o === 'full')).toBe(true);
    for (const w of collisions.slice(0, 128)) expect(set.has(w, 1, 2, 3)).toBe(true);
    for (const w of collisions.slice(128)) expect(set.has(w, 1, 2, 3)).toBe(false);
  });
});

describe('Iv16ReplayWindow', () => {
  it('answers like a Set-based window with the same generations, for any sequence of IVs and times', () => {
    const ivWords = fc.tuple(fc.nat(7), fc.constantFrom(0, 0xffffffff, 0x12345678), fc.nat(3), fc.nat(1000));
    const step = fc.tuple(ivWords, fc.nat(400), fc.boolean());
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (steps, max) => {
        let now = 0;
        const clock = (): number => now;
        const window = new Iv16ReplayWindow(1000, max, clock);
        const reference = new ReferenceWindow(1000, max, clock);
        for (const [words, advance, upper] of steps) {
          now += advance;
          const id = hex(words);
          // Either case names the same IV.
          expect(window.firstSighting(upper ? id.toUpperCase() : id)).toBe(reference.firstSighting(id));
        }
        expect(window.size).toBeLessThanOrEqual(2 * max);
      }),
      { numRuns: 300 },
    );
  });

  it('rotates early when a generation fills and counts it', () => {
    const window = new Iv16ReplayWindow(60_000, 10, () => 0);
    for (let i = 0; i < 100; i += 1) window.firstSighting(hex([i, 0, 0, 1]));
    expect(window.size).toBeLessThanOrEqual(20);
    expect(window.earlyRotations).toBeGreaterThan(0);
  });

  it('IVs crafted to collide only shorten the window (early rotation), never let a recent replay through', () => {
    const collisions = colliding(SEED, 200);
    const window = new Iv16ReplayWindow(60_000, 2048, () => 0, SEED);
    for (const w of collisions) expect(window.firstSighting(hex([w, 1, 2, 3]))).toBe(true);
    expect(window.earlyRotations).toBe(1);
    for (const w of collisions) expect(window.firstSighting(hex([w, 1, 2, 3]))).toBe(false);
  });

  it('forgets an IV: its next sighting is a first one (once), in either generation; a later replay is refused', () => {
    let now = 0;
    const window = new Iv16ReplayWindow(1000, 100, () => now, SEED);
    const a = hex([1, 2, 3, 4]);
    const b = hex([5, 6, 7, 8]);
    expect(window.firstSighting(a)).toBe(true);
    window.forget(a.toUpperCase());
    expect(window.firstSighting(a)).toBe(true);
    expect(window.firstSighting(a)).toBe(false);
    expect(window.firstSighting(b)).toBe(true);
    now = 1000; // b is in the previous generation now
    window.forget(b);
    expect(window.firstSighting(b)).toBe(true);
    expect(window.firstSighting(b)).toBe(false);
    // The all-zero IV too (a flag of its own in the set).
    const zero = hex([0, 0, 0, 0]);
    expect(window.firstSighting(zero)).toBe(true);
    window.forget(zero);
    expect(window.firstSighting(zero)).toBe(true);
    expect(window.firstSighting(zero)).toBe(false);
  });

  it('forgetting an IV it does not hold changes nothing, and a forget does not outlive the IV', () => {
    let now = 0;
    const window = new Iv16ReplayWindow(1000, 100, () => now, SEED);
    const a = hex([9, 9, 9, 9]);
    window.forget(a); // never seen: nothing noted
    expect(window.firstSighting(a)).toBe(true);
    expect(window.firstSighting(a)).toBe(false);
    window.forget(a);
    // Two rotations: a leaves both generations, its forget note left behind.
    now = 1000;
    expect(window.firstSighting(hex([7, 7, 7, 7]))).toBe(true);
    now = 2000;
    expect(window.firstSighting(hex([8, 8, 8, 8]))).toBe(true);
    expect(window.firstSighting(a)).toBe(true); // a first sighting after the window: no forget spent on it
    expect(window.firstSighting(a)).toBe(false); // the old forget does not let this replay through
    expect(() => window.forget('xyz')).toThrow(RangeError);
  });

  it('refuses ids that are not 32 hex characters (callers pass decoded IVs only)', () => {
    const window = new Iv16ReplayWindow(1000, 10);
    for (const bad of ['', 'a', 'g'.repeat(32), '0'.repeat(31), '0'.repeat(33)]) {
      expect(() => window.firstSighting(bad)).toThrow(RangeError);
    }
  });
});

describe('seqFromIvWords', () => {
  it('is seqFromIv for the same IV given as words', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), ([w0, w1]) => {
        expect(seqFromIvWords(w0, w1)).toBe(seqFromIv(hex([w0, w1, 0, 0])));
      }),
      { numRuns: 500 },
    );
    expect(seqFromIvWords(0xffffffff, 0xffffffff)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
