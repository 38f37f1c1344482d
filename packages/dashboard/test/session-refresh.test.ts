// Tests for when the dashboard renews its token: at 80 % of its life, retried while it lasts, and when to warn.
import { describe, expect, it } from 'vitest';
import { REFRESH_RETRY_MS, refreshDueAt, refreshOverdue, refreshRetryDelay } from '../src/session-refresh.js';

describe('refreshDueAt', () => {
  it('is 80 % into the token life: 720 s into a 900 s token, 24 s into a 30 s one', () => {
    expect(refreshDueAt({ issuedAt: 1_000, expiresAt: 901_000 }, 5_000)).toBe(721_000);
    expect(refreshDueAt({ issuedAt: 0, expiresAt: 30_000 }, 0)).toBe(24_000);
  });
  it('without an issue time (an older stored session) counts the rest of its life from now', () => {
    expect(refreshDueAt({ expiresAt: 110_000 }, 10_000)).toBe(90_000);
  });
  it('is in the past for a session reloaded after its refresh point, so it is renewed at once', () => {
    expect(refreshDueAt({ issuedAt: 0, expiresAt: 900_000 }, 800_000)).toBeLessThan(800_000);
  });
});

describe('refreshRetryDelay', () => {
  it('retries every few seconds, sooner close to the expiry, and gives up in the last second', () => {
    expect(refreshRetryDelay(100_000, 0)).toBe(REFRESH_RETRY_MS);
    expect(refreshRetryDelay(4_000, 0)).toBe(2_000);
    expect(refreshRetryDelay(1_000, 0)).toBeNull();
    expect(refreshRetryDelay(0, 10)).toBeNull();
  });
});

describe('refreshOverdue', () => {
  it('is true only once renewing has been failing for two retry periods', () => {
    const session = { issuedAt: 0, expiresAt: 100_000 };
    expect(refreshOverdue(session, 80_000)).toBe(false);
    expect(refreshOverdue(session, 80_000 + 2 * REFRESH_RETRY_MS)).toBe(true);
    expect(refreshOverdue({ expiresAt: 100_000 }, 99_000)).toBe(false);
  });
});
