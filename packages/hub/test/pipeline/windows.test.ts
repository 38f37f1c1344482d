import { describe, expect, it } from 'vitest';
import { IvReplayWindow } from '../../src/pipeline/iv-replay-window.js';
import { seqFromIv } from '../../src/pipeline/legacy-opener.js';
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
});

describe('seqFromIv', () => {
  it('takes a safe integer from the first 53 bits of the IV', () => {
    expect(seqFromIv('ffffffffffffffffffffffffffffffff')).toBe(Number.MAX_SAFE_INTEGER);
    expect(seqFromIv('00000000000000000000000000000000')).toBe(0);
    expect(seqFromIv('00000001000000000000000000000000')).toBe(2 ** 21);
  });
});
