import { describe, expect, it } from 'vitest';
import { IvReplayWindow } from '../../src/pipeline/iv-replay-window.js';
import { seqFromIv } from '../../src/pipeline/legacy-opener.js';
import fc from 'fast-check';
import { SeqWindow } from '../../src/pipeline/seq-window.js';

describe('IvReplayWindow', () => {
  it('refuses a repeated IV within the window and forgets it after two generations', () => {
    let now = 0;
    const window = new IvReplayWindow(1000, 100, () => now);
    expect(window.firstSighting('a')).toBe(true);
    expect(window.firstSighting('a')).toBe(false);
    now = 1500;
    expect(window.firstSighting('a')).toBe(false); // previous generation still remembered
    now = 2600;
    expect(window.firstSighting('a')).toBe(true);
  });

  it('rotates early when a generation fills, staying bounded', () => {
    const window = new IvReplayWindow(60_000, 10, () => 0);
    for (let i = 0; i < 100; i += 1) window.firstSighting(`iv${i}`);
    expect(window.size).toBeLessThanOrEqual(20);
    expect(window.earlyRotations).toBeGreaterThan(0);
  });
});

describe('SeqWindow', () => {
  it('knows committed sequence numbers inside the window and defers everything else', () => {
    const window = new SeqWindow(100, 10);
    window.recordCommitted('d', 1000);
    window.recordCommitted('d', 990);
    expect(window.seen('d', 1000)).toBe(true);
    expect(window.seen('d', 990)).toBe(true);
    expect(window.seen('d', 991)).toBe(false);
    expect(window.seen('d', 800)).toBe(false); // older than the window: the store decides
    expect(window.seen('other', 1000)).toBe(false);
  });

  it('evicts the least recently used device at its bound', () => {
    const window = new SeqWindow(100, 2);
    window.recordCommitted('a', 1);
    window.recordCommitted('b', 1);
    window.recordCommitted('a', 2);
    window.recordCommitted('c', 1);
    expect(window.deviceCount).toBe(2);
    expect(window.seen('a', 2)).toBe(true);
    expect(window.seen('b', 1)).toBe(false);
  });

  it('answers exactly like a set of committed numbers within the window (any order, jumps, wrap of the ring)', () => {
    /** The meaning, spelled out: committed before, and within windowSize below the device's highest. */
    class Reference {
      private readonly highest = new Map<string, number>();
      private readonly committed = new Set<string>();
      constructor(private readonly size: number) {}
      record(device: string, seq: number): void {
        const top = Math.max(this.highest.get(device) ?? seq, seq);
        this.highest.set(device, top);
        if (top - seq < this.size) this.committed.add(`${device}/${seq}`);
      }
      seen(device: string, seq: number): boolean {
        const top = this.highest.get(device);
        if (top === undefined || top - seq < 0 || top - seq >= this.size) return false;
        return this.committed.has(`${device}/${seq}`);
      }
    }
    const op = fc.record({
      device: fc.constantFrom('a', 'b'),
      // Sparse relative to the window, so numbers leave the window and the ring reuses their bits;
      // sometimes a far jump (past the whole ring) or a large number.
      seq: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 1000 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) },
      ),
      record: fc.boolean(),
      probes: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 6, maxLength: 6 }),
    });
    fc.assert(
      fc.property(fc.constantFrom(1, 31, 32, 100, 128), fc.array(op, { maxLength: 300 }), (size, ops) => {
        const window = new SeqWindow(size, 10);
        const reference = new Reference(size);
        for (const { device, seq, record, probes } of ops) {
          if (record) {
            window.recordCommitted(device, seq);
            reference.record(device, seq);
          }
          for (const probe of [seq, seq - 1, seq + 1, seq - size, seq - size + 1, ...probes]) {
            if (probe < 0) continue;
            expect(window.seen(device, probe), `${device}/${probe}`).toBe(reference.seen(device, probe));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a device that is still used and forgets one that is not, however many arrive', () => {
    const window = new SeqWindow(64, 3);
    window.recordCommitted('busy', 1);
    for (let i = 0; i < 50; i += 1) {
      window.recordCommitted('busy', 2 + i);
      window.recordCommitted(`once-${i}`, 1);
      expect(window.deviceCount).toBeLessThanOrEqual(3);
    }
    expect(window.seen('busy', 51)).toBe(true);
    expect(window.seen('once-0', 1)).toBe(false);
    expect(window.seen('once-49', 1)).toBe(true);
  });
});

describe('seqFromIv', () => {
  it('takes a safe integer from the first 53 bits of the IV', () => {
    expect(seqFromIv('ffffffffffffffffffffffffffffffff')).toBe(Number.MAX_SAFE_INTEGER);
    expect(seqFromIv('00000000000000000000000000000000')).toBe(0);
    expect(seqFromIv('00000001000000000000000000000000')).toBe(2 ** 21);
  });
});
