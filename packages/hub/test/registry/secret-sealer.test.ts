/** Sealing device secrets at rest: round trip, binding to the key id, and refusal of wrong keys or edits. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SealedSecretError, SecretSealer } from '../../src/registry/secret-sealer.js';

describe('SecretSealer', () => {
  const sealer = new SecretSealer(randomBytes(32));

  it('opens what it sealed, and seals the same secret differently each time', () => {
    const secret = randomBytes(32);
    const a = sealer.seal('k-1', secret);
    const b = sealer.seal('k-1', secret);
    expect(a.equals(b)).toBe(false);
    expect(sealer.open('k-1', a).equals(secret)).toBe(true);
  });

  it('refuses another key id, another master key, and any single flipped bit', () => {
    const secret = randomBytes(32);
    const sealed = sealer.seal('k-1', secret);
    expect(() => sealer.open('k-2', sealed)).toThrow(SealedSecretError);
    expect(() => new SecretSealer(randomBytes(32)).open('k-1', sealed)).toThrow(SealedSecretError);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), (bit) => {
        const edited = Buffer.from(sealed);
        edited[bit >> 3] = (edited[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        expect(() => sealer.open('k-1', edited)).toThrow(SealedSecretError);
      }),
    );
    expect(() => sealer.open('k-1', sealed.subarray(0, 10))).toThrow(SealedSecretError);
  });

  it('needs a 32-byte master key', () => {
    expect(() => new SecretSealer(randomBytes(16))).toThrow(/32 bytes/);
  });
});
