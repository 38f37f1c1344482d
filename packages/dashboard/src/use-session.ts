/**
 * The session hook: the stored session (checked against GET /api/v1/auth/me on load, which also
 * picks up a changed role), sign-in, sign-out, and the ApiClient bound to the current token. Any 401
 * from the API, a refused live handshake or the token's expiry ends the session with a notice, so the
 * page goes back to the sign-in form instead of showing stale or empty data.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api/api-client.js';
import { fetchMe } from './api/auth-api.js';
import type { Session } from './session.js';
import { clearSession, loadSession, saveSession } from './session.js';

export interface SessionState {
  readonly session: Session | null;
  /** True while a stored token is being checked with the hub. */
  readonly checking: boolean;
  /** Why the user was signed out, shown on the sign-in form. */
  readonly notice: string | null;
  readonly api: ApiClient;
  signIn(session: Session): void;
  signOut(notice?: string | null): void;
}

export const EXPIRED_NOTICE = 'Your session ended (expired or refused by the hub). Sign in again.';

export function useSession(): SessionState {
  const [session, setSession] = useState<Session | null>(() => loadSession(window.sessionStorage, Date.now()));
  const [checking, setChecking] = useState(session !== null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why: string | null = null) => {
    clearSession(window.sessionStorage);
    setSession(null);
    setChecking(false);
    setNotice(why);
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(window.sessionStorage, next);
    setNotice(null);
    setChecking(false);
    setSession(next);
  }, []);

  const token = session?.token ?? null;
  const api = useMemo(() => new ApiClient(token, () => signOut(EXPIRED_NOTICE)), [token, signOut]);

  // A stored token is checked once: it may have expired early, been revoked, or changed role.
  useEffect(() => {
    if (!checking || token === null) return;
    const controller = new AbortController();
    void fetchMe(api, controller.signal).then((answer) => {
      if (controller.signal.aborted) return;
      setChecking(false);
      // A 401 already signed out; a network error keeps the session (the live view shows the hub down).
      if (!answer.ok) return;
      const me = answer.value;
      setSession((current) => {
        if (current === null || (me.role === current.role && me.username === current.username)) return current;
        const updated = { ...current, ...me };
        saveSession(window.sessionStorage, updated);
        return updated;
      });
    });
    return () => controller.abort();
  }, [api, checking, token]);

  const expiresAt = session?.expiresAt ?? null;
  useEffect(() => {
    if (expiresAt === null) return;
    const timer = setTimeout(() => signOut(EXPIRED_NOTICE), Math.max(0, expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [expiresAt, signOut]);

  return { session, checking, notice, api, signIn, signOut };
}
