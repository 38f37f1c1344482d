/**
 * The sign-in form: user name and password against the hub's accounts. Shown whenever there is no
 * valid session; says why when the user was signed out (expiry, refused token) and when sign-in fails.
 */
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { login } from '../api/auth-api.js';
import type { Session } from '../session.js';

interface LoginFormProps {
  readonly notice: string | null;
  readonly onSignedIn: (session: Session) => void;
}

export function LoginForm({ notice, onSignedIn }: LoginFormProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const userId = useId();
  const passwordId = useId();

  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    void login(username.trim(), password).then((answer) => {
      setBusy(false);
      if (answer.ok) onSignedIn(answer.value);
      else setError(answer.error);
    });
  };

  return (
    <main className="login-page">
      <form className="panel login-form" onSubmit={submit} aria-labelledby="login-heading" data-testid="login-form">
        <h1 id="login-heading">Sealstream</h1>
        <p className="muted">Sign in with your hub account.</p>
        {notice !== null && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <div className="field">
          <label htmlFor={userId}>User name</label>
          <input
            id={userId}
            name="username"
            autoComplete="username"
            required
            autoFocus
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={passwordId}>Password</label>
          <input
            id={passwordId}
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </div>
        {error !== null && (
          <p className="notice is-error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="button is-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
