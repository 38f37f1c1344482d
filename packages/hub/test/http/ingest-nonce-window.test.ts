/** The signed-request nonce window: remembered for the whole tolerance, bounded, fails closed when full. */
import { describe, expect, it } from 'vitest';
import { NonceWindow } from '../../src/pipeline/nonce-window.js';
import { timestampToMs } from '../../src/http/hmac-signature.js';

describe('NonceWindow', () => {
  it('remembers a nonce until its request can no longer pass the timestamp check', () => {
    const window = new NonceWindow(300_000, 10);
    const now = 1_000_000_000_000;
    // A request stamped in the future stays valid until its stamp + tolerance.
    expect(window.check('d\u0000n1', now + 200_000, now)).toBe('fresh');
    expect(window.check('d\u0000n1', now + 200_000, now + 499_999)).toBe('replayed');
    expect(window.check('d\u0000n1', now + 200_000, now + 500_000)).toBe('fresh');
    // A request stamped in the past is still remembered for a full tolerance from receipt.
    expect(window.check('d\u0000n2', now - 299_000, now)).toBe('fresh');
    expect(window.check('d\u0000n2', now - 299_000, now + 299_999)).toBe('replayed');
  });

  it('fails closed when full of live nonces, and takes new ones again once old ones expire', () => {
    const window = new NonceWindow(1_000, 3);
    for (const nonce of ['a', 'b', 'c']) expect(window.check(nonce, 0, 0)).toBe('fresh');
    expect(window.check('d', 0, 10)).toBe('full');
    expect(window.check('a', 0, 10)).toBe('replayed');
    expect(window.refusedWhileFull).toBe(1);
    expect(window.size).toBe(3);
    expect(window.check('d', 0, 1_000)).toBe('fresh');
    expect(window.size).toBe(1);
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
