/** The page: the sign-in form without a valid session, else the signed-in shell. */
import { AppShell } from './AppShell.js';
import { LoginForm } from './components/LoginForm.js';
import { useSession } from './use-session.js';

export function App() {
  const { session, checking, notice, api, signIn, signOut } = useSession();
  if (session === null) return <LoginForm notice={notice} onSignedIn={signIn} />;
  if (checking) {
    return (
      <main className="login-page">
        <p className="muted" role="status">
          Checking your session…
        </p>
      </main>
    );
  }
  return <AppShell session={session} api={api} onSignOut={signOut} />;
}
