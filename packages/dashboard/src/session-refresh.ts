/**
 * When the dashboard renews its API token: at 80 % of the token's life, so a page left open is never
 * signed out by the token's short lifetime and the live link can move to the new token well before
 * the hub closes the old one at its expiry. A failed renewal (hub down, rate limited) is tried again
 * every few seconds while the token lasts; a refused one (401) ends the session.
 */
import type { Session } from './session.js';

export const REFRESH_AT_FRACTION = 0.8;
export const REFRESH_RETRY_MS = 5000;
/** No retry this close to the expiry: the answer could not arrive in time to matter. */
const LAST_RETRY_MS = 1000;

type Lifetime = Pick<Session, 'expiresAt' | 'issuedAt'>;

/** When to renew, ms since epoch. Without an issue time (an older stored session) the rest of its life counts. */
export function refreshDueAt(session: Lifetime, now: number): number {
  const issuedAt = session.issuedAt ?? now;
  return issuedAt + (session.expiresAt - issuedAt) * REFRESH_AT_FRACTION;
}

/** How long to wait before trying a failed renewal again; null when the token ends too soon to bother. */
export function refreshRetryDelay(expiresAt: number, now: number): number | null {
  const left = expiresAt - now;
  if (left <= LAST_RETRY_MS) return null;
  return Math.min(REFRESH_RETRY_MS, Math.floor(left / 2));
}

/** True once renewing has failed for a while: only then is the user told the session is about to end. */
export function refreshOverdue(session: Lifetime, now: number): boolean {
  if (session.issuedAt === undefined) return false;
  return now >= refreshDueAt(session, now) + 2 * REFRESH_RETRY_MS;
}
