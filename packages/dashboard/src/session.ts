/**
 * The signed-in session: the API's bearer token with the account it belongs to and when it expires,
 * kept in sessionStorage (per tab, gone when the tab closes) so a reload does not sign the user out.
 * Also the role rules the UI applies: viewers read, operators manage devices and dead letters, admins
 * everything. The hub enforces the same rules; the UI only hides what the hub would refuse.
 */
import type { Role } from '@sealstream/contract';

/** The REST contract's role enum (types only: nothing of the contract enters the bundle). */
export type { Role };

export interface Session {
  readonly token: string;
  readonly username: string;
  readonly role: Role;
  /** When the token stops working, ms since epoch. */
  readonly expiresAt: number;
  /** When the token was issued (ms since epoch), to renew it part-way through its life; absent in old stores. */
  readonly issuedAt?: number;
}

export const SESSION_KEY = 'sealstream.session';

const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };

export function isRole(value: unknown): value is Role {
  return value === 'viewer' || value === 'operator' || value === 'admin';
}

/** Register, rotate, revoke, re-drive: operator or admin. */
export function canOperate(role: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK.operator;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The answer of POST /api/v1/auth/login (or /auth/refresh, same shape) as a Session. The hub answers `expiresIn` (seconds); the
 * newer contract names `expiresAt` (ms); either is accepted.
 */
export function sessionFromLogin(body: unknown, now: number): Session | null {
  if (!isObject(body) || typeof body['token'] !== 'string' || body['token'] === '') return null;
  const user = body['user'];
  if (!isObject(user) || typeof user['username'] !== 'string' || !isRole(user['role'])) return null;
  let expiresAt: number;
  if (typeof body['expiresAt'] === 'number' && Number.isFinite(body['expiresAt'])) expiresAt = body['expiresAt'];
  else if (typeof body['expiresIn'] === 'number' && Number.isFinite(body['expiresIn']))
    expiresAt = now + body['expiresIn'] * 1000;
  else return null;
  return { token: body['token'], username: user['username'], role: user['role'], expiresAt, issuedAt: now };
}

/** The stored session if there is one and it has not expired; a malformed entry is removed. */
export function loadSession(storage: Storage, now: number): Session | null {
  let raw: string | null;
  try {
    raw = storage.getItem(SESSION_KEY);
  } catch {
    return null;
  }
  if (raw === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  const ok =
    isObject(parsed) &&
    typeof parsed['token'] === 'string' &&
    typeof parsed['username'] === 'string' &&
    isRole(parsed['role']) &&
    typeof parsed['expiresAt'] === 'number' &&
    (parsed['issuedAt'] === undefined || typeof parsed['issuedAt'] === 'number');
  if (!ok || (parsed as unknown as Session).expiresAt <= now) {
    clearSession(storage);
    return null;
  }
  return parsed as unknown as Session;
}

export function saveSession(storage: Storage, session: Session): void {
  try {
    storage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // Storage full or disabled: the session still works until the tab reloads.
  }
}

export function clearSession(storage: Storage): void {
  try {
    storage.removeItem(SESSION_KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}
