/**
 * The signed-request nonce window: remembered for the whole tolerance, bounded per owner (device) and in
 * all, fails closed at either bound.
 */
import { describe, expect, it } from 'vitest';
import { NonceWindow } from '../../../src/pipeline/nonce-window.js';
import { timestampToMs } from '../../../src/ingest/http/hmac-signature.js';

describe('NonceWindow', () => {
  it('remembers a nonce until its request can no longer pass the timestamp check', () => {
    const window = new NonceWindow(300_000, 10);
    const now = 1_000_000_000_000;
    // A request stamped in the future stays valid until its stamp + tolerance.
    expect(window.check('d', 'n1', now + 200_000, now)).toBe('fresh');
    expect(window.check('d', 'n1', now + 200_000, now + 499_999)).toBe('replayed');
    expect(window.check('d', 'n1', now + 200_000, now + 500_000)).toBe('fresh');
    // A request stamped in the past is still remembered for a full tolerance from receipt.
    expect(window.check('d', 'n2', now - 299_000, now)).toBe('fresh');
    expect(window.check('d', 'n2', now - 299_000, now + 299_999)).toBe('replayed');
  });

  it('fails closed when full of live nonces, and takes new ones again once old ones expire', () => {
    const window = new NonceWindow(1_000, 3);
    for (const nonce of ['a', 'b', 'c']) expect(window.check('d', nonce, 0, 0)).toBe('fresh');
    expect(window.check('e', 'd', 0, 10)).toBe('full');
    expect(window.check('d', 'a', 0, 10)).toBe('replayed');
    expect(window.refusedWhileFull).toBe(1);
    expect(window.size).toBe(3);
    expect(window.check('e', 'd', 0, 1_000)).toBe('fresh');
    expect(window.size).toBe(1);
  });

  it('keeps nonces per owner: the same nonce of two owners is two nonces', () => {
    const window = new NonceWindow(1_000, 10);
    expect(window.check('a', 'n', 0, 0)).toBe('fresh');
    expect(window.check('b', 'n', 0, 0)).toBe('fresh');
    expect(window.check('a', 'n', 0, 1)).toBe('replayed');
  });

  it('refuses an owner at its own bound while other owners go on, and never forgets a live nonce early', () => {
    const window = new NonceWindow(1_000, 10, 3);
    expect(window.maxPerOwner).toBe(3);
    for (const [nonce, at] of [
      ['a1', 0],
      ['a2', 100],
      ['a3', 200],
    ] as const) {
      expect(window.check('flooder', nonce, at, at)).toBe('fresh');
    }
    for (let i = 0; i < 20; i += 1) expect(window.check('flooder', `x${i}`, 300, 300)).toBe('owner_full');
    expect(window.refusedOverOwnerBound).toBe(20);
    expect(window.sizeOf('flooder')).toBe(3);
    // Its nonces are all still remembered (fail closed), and the wait is until its oldest one expires.
    expect(window.check('flooder', 'a1', 0, 999)).toBe('replayed');
    expect(window.ownerFreesAt('flooder', 300)).toBe(1_000);
    // Other owners are not affected: the window as a whole has room.
    for (const owner of ['b', 'c']) {
      for (let i = 0; i < 3; i += 1) expect(window.check(owner, `n${i}`, 300, 300)).toBe('fresh');
    }
    expect(window.refusedWhileFull).toBe(0);
    // Once its oldest nonce expired it may record one more.
    expect(window.check('flooder', 'a4', 1_000, 1_000)).toBe('fresh');
    expect(window.check('flooder', 'a5', 1_000, 1_000)).toBe('owner_full');
    expect(window.size).toBe(9);
  });

  it('verdict() answers without recording; owners with no nonce left are dropped', () => {
    const window = new NonceWindow(1_000, 2, 2);
    expect(window.verdict('a', 'n', 0)).toBe('fresh');
    expect(window.size).toBe(0);
    expect(window.check('a', 'n', 0, 0)).toBe('fresh');
    expect(window.verdict('a', 'n', 1)).toBe('replayed');
    expect(window.check('b', 'n', 0, 0)).toBe('fresh');
    expect(window.verdict('c', 'n', 1)).toBe('full');
    // Both expire: the sweep frees them and drops both owners.
    expect(window.check('c', 'n', 0, 1_000)).toBe('fresh');
    expect(window.size).toBe(1);
    expect(window.sizeOf('a')).toBe(0);
    expect(window.ownerFreesAt('a', 1_000)).toBe(1_000);
  });

  it('refuses bad bounds', () => {
    expect(() => new NonceWindow(1_000, 10, 0)).toThrow();
    expect(() => new NonceWindow(1_000, 10, 1.5)).toThrow();
  });
});

describe('x-timestamp', () => {
  it('reads seconds below 1e11 and milliseconds above; refuses anything not a plain integer', () => {
    expect(timestampToMs('1700000000')).toBe(1_700_000_000_000);
    expect(timestampToMs('1700000000123')).toBe(1_700_000_000_123);
    for (const bad of ['', '-1', '1.5', '1e12', ' 17', '0x10', '12345678901234567'])
      expect(timestampToMs(bad)).toBeUndefined();
  });
});
