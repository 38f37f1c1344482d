/**
 * The session hook: the stored session (checked against GET /api/v1/auth/me on load, which also
 * picks up a changed role), sign-in, sign-out, renewal, and the ApiClient of the signed-in user.
 * The token is renewed at 80 % of its life (session-refresh.ts); the renewed session is stored and the
 * live link moves to the new token by itself (the shell passes the token on), so a page left open
 * stays signed in. The ApiClient reads the current token at every request and is the same object
 * across renewals, so no view refetches or reconnects because of one. A 401 from the API, a refused
 * live handshake, or a token that expires because renewing kept failing ends the session with a
 * notice, so the page goes back to the sign-in form instead of showing stale or empty data.
 */
import { useCallback, useEffect, useState } from 'react';
import { ApiClient } from './api/api-client.js';
import { fetchMe, refreshSession } from './api/auth-api.js';
import type { Session } from './session.js';
import { clearSession, loadSession, saveSession } from './session.js';
import { refreshDueAt, refreshRetryDelay } from './session-refresh.js';

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

/** The token the ApiClient sends, read at each request; set only where the session changes. */
class TokenSlot {
  constructor(private value: string | null) {}
  get(): string | null {
    return this.value;
  }
  set(value: string | null): void {
    this.value = value;
  }
}

export function useSession(): SessionState {
  const [session, setSession] = useState<Session | null>(() => loadSession(window.sessionStorage, Date.now()));
  const [checking, setChecking] = useState(session !== null);
  const [notice, setNotice] = useState<string | null>(null);
  // What the ApiClient sends; written only where the session changes (sign-in, renewal, sign-out).
  const [tokenSlot] = useState(() => new TokenSlot(session?.token ?? null));

  const adopt = useCallback(
    (next: Session | null) => {
      tokenSlot.set(next?.token ?? null);
      if (next === null) clearSession(window.sessionStorage);
      else saveSession(window.sessionStorage, next);
      setSession(next);
    },
    [tokenSlot],
  );

  const signOut = useCallback(
    (why: string | null = null) => {
      adopt(null);
      setChecking(false);
      setNotice(why);
    },
    [adopt],
  );

  const signIn = useCallback(
    (next: Session) => {
      adopt(next);
      setNotice(null);
      setChecking(false);
    },
    [adopt],
  );

  const [api] = useState(
    () =>
      new ApiClient(
        () => tokenSlot.get(),
        () => signOut(EXPIRED_NOTICE),
      ),
  );

  const token = session?.token ?? null;
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
  const issuedAt = session?.issuedAt;
  // Renew before expiry; every renewal changes the token, which schedules the next one.
  useEffect(() => {
    if (token === null || expiresAt === null) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const attempt = (): void => {
      void refreshSession(api, controller.signal).then((answer) => {
        if (controller.signal.aborted) return;
        if (answer.ok) {
          adopt(answer.value);
          return;
        }
        // A 401 has already signed out (the ApiClient reports it). Anything else — the hub restarting,
        // a rate limit — is tried again while the token lasts; the expiry timer below is the backstop.
        if (answer.status === 401) return;
        const retry = refreshRetryDelay(expiresAt, Date.now());
        if (retry !== null) timer = setTimeout(attempt, retry);
      });
    };
    const now = Date.now();
    timer = setTimeout(attempt, Math.max(0, refreshDueAt({ expiresAt, issuedAt }, now) - now));
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, adopt, token, expiresAt, issuedAt]);

  useEffect(() => {
    if (expiresAt === null) return;
    const timer = setTimeout(() => signOut(EXPIRED_NOTICE), Math.max(0, expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [expiresAt, signOut]);

  return { session, checking, notice, api, signIn, signOut };
}
