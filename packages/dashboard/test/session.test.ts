// Tests for the session: login answers (either expiry field), storage round trip, expiry, role rules.
import { describe, expect, it } from 'vitest';
import { canOperate, clearSession, loadSession, saveSession, SESSION_KEY, sessionFromLogin } from '../src/session.js';

class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

const answer = {
  token: 'jwt',
  tokenType: 'Bearer',
  expiresIn: 900,
  user: { id: '1', username: 'ann', role: 'operator' },
};

describe('sessionFromLogin', () => {
  it('reads the hub answer with expiresIn (seconds) or expiresAt (ms)', () => {
    expect(sessionFromLogin(answer, 1_000)).toEqual({
      token: 'jwt',
      username: 'ann',
      role: 'operator',
      expiresAt: 901_000,
      issuedAt: 1_000,
    });
    const { expiresIn: _expiresIn, ...withoutIn } = answer;
    expect(sessionFromLogin({ ...withoutIn, expiresAt: 5_000 }, 1_000)?.expiresAt).toBe(5_000);
  });
  it('refuses answers without a token, a known role or an expiry', () => {
    expect(sessionFromLogin({ ...answer, token: '' }, 0)).toBeNull();
    expect(sessionFromLogin({ ...answer, user: { username: 'ann', role: 'root' } }, 0)).toBeNull();
    const { expiresIn: _expiresIn, ...withoutExpiry } = answer;
    expect(sessionFromLogin(withoutExpiry, 0)).toBeNull();
    expect(sessionFromLogin(null, 0)).toBeNull();
  });
});

describe('stored session', () => {
  it('round-trips and is dropped once expired', () => {
    const storage = new MemoryStorage();
    const session = { token: 't', username: 'ann', role: 'viewer' as const, expiresAt: 10_000 };
    saveSession(storage, session);
    expect(loadSession(storage, 9_999)).toEqual(session);
    expect(loadSession(storage, 10_000)).toBeNull();
    expect(storage.getItem(SESSION_KEY)).toBeNull();
  });
  it('drops a malformed entry', () => {
    const storage = new MemoryStorage();
    storage.setItem(SESSION_KEY, '{"token":1}');
    expect(loadSession(storage, 0)).toBeNull();
    storage.setItem(SESSION_KEY, 'not json');
    expect(loadSession(storage, 0)).toBeNull();
    expect(storage.length).toBe(0);
    clearSession(storage);
  });
});

describe('canOperate', () => {
  it('lets operators and admins act, not viewers', () => {
    expect(canOperate('viewer')).toBe(false);
    expect(canOperate('operator')).toBe(true);
    expect(canOperate('admin')).toBe(true);
  });
});
