/**
 * Who is signed in, with which role, the sign-out button, and a warning once the session is about to
 * end. Tokens are short-lived but renewed in the background (session-refresh.ts), so the warning
 * appears only when renewing has been failing and the page will return to the sign-in form at expiry.
 */
import { formatAge } from '../format.js';
import type { Session } from '../session.js';
import { refreshOverdue } from '../session-refresh.js';

/** Warn this long before the token expires. */
export const EXPIRY_WARNING_MS = 2 * 60_000;

interface UserBadgeProps {
  readonly session: Session;
  /** Wall clock, updated about once a second. */
  readonly now: number;
  readonly onSignOut: () => void;
}

export function UserBadge({ session, now, onSignOut }: UserBadgeProps) {
  const left = session.expiresAt - now;
  return (
    <div className="user-badge">
      <span data-testid="signed-in-user" data-role={session.role}>
        {session.username} <span className="role-tag">{session.role}</span>
      </span>
      {left <= EXPIRY_WARNING_MS && refreshOverdue(session, now) && (
        <span className="session-expiry" role="status" data-testid="session-expiry">
          Session ends in {formatAge(Math.max(0, left))}: the hub did not renew it; sign in again to continue
        </span>
      )}
      <button type="button" className="button" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}
