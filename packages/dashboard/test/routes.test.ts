// Tests for hash routes: known views, defaults, and the hash each view links to.
import { describe, expect, it } from 'vitest';
import { hashOf, viewFromHash, VIEWS } from '../src/routes.js';

describe('viewFromHash', () => {
  it('maps each view hash back to its view', () => {
    for (const view of VIEWS) expect(viewFromHash(hashOf(view.name))).toBe(view.name);
  });
  it('falls back to the live view for empty or unknown hashes', () => {
    expect(viewFromHash('')).toBe('live');
    expect(viewFromHash('#/nope')).toBe('live');
    expect(viewFromHash('#/devices?x=1')).toBe('devices');
  });
});
