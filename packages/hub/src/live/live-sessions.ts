/**
 * Which account each open live connection was admitted for, so the connections of an account can be
 * ended the moment it is disabled or deleted, instead of living until their token expires (up to
 * the token's lifetime). Transport-neutral: a Socket.IO connection, a plain WebSocket or any other live
 * link registers how to end it; the account routes call `endForAccount` through the API's port
 * (http/api-ports.ts `LiveSessionControl`). Bounded by the open connections themselves: a session is
 * forgotten when its connection closes.
 */

export class LiveSessions {
  private readonly byAccount = new Map<string, Set<() => void>>();

  /**
   * Registers a live connection admitted for `accountId`, ended by `end` (which closes it). Returns the
   * function that forgets it: call it when the connection closes.
   */
  open(accountId: string, end: () => void): () => void {
    let sessions = this.byAccount.get(accountId);
    if (sessions === undefined) {
      sessions = new Set();
      this.byAccount.set(accountId, sessions);
    }
    sessions.add(end);
    return () => this.forget(accountId, end);
  }

  /** Ends every open live connection of the account at once; answers how many were ended. */
  endForAccount(accountId: string): number {
    const sessions = this.byAccount.get(accountId);
    if (sessions === undefined) return 0;
    this.byAccount.delete(accountId);
    for (const end of sessions) {
      try {
        end();
      } catch {
        // A connection that fails to close is already going; the others still end.
      }
    }
    return sessions.size;
  }

  /** Open live connections of one account (diagnostics and tests). */
  countFor(accountId: string): number {
    return this.byAccount.get(accountId)?.size ?? 0;
  }

  private forget(accountId: string, end: () => void): void {
    const sessions = this.byAccount.get(accountId);
    if (sessions === undefined) return;
    sessions.delete(end);
    if (sessions.size === 0) this.byAccount.delete(accountId);
  }
}
