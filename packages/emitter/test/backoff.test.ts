import { describe, expect, it } from 'vitest';
import { Backoff } from '@sealstream/emitter';

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs and starts over after reset()', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('draws each delay from [ceiling × (1 − jitter), ceiling]', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0);
    const high = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 1);
    expect([low.next(), low.next()]).toEqual([50, 100]);
    expect([high.next(), high.next()]).toEqual([100, 200]);
    const full = new Backoff({ initialMs: 100, jitter: 1 }, () => 0);
    expect(full.next()).toBe(0);
  });
});
