/**
 * The signed-in page: header (navigation, live link state, user) and the current view. The live
 * connection belongs to the shell, not the live view, so switching views neither drops the link nor
 * loses the live buffers, and the link state stays visible everywhere.
 */
import { useCallback } from 'react';
import type { ApiClient } from './api/api-client.js';
import { ConnectionStatus } from './components/ConnectionStatus.js';
import { NavTabs } from './components/NavTabs.js';
import { UserBadge } from './components/UserBadge.js';
import type { Session } from './session.js';
import { canOperate } from './session.js';
import { EXPIRED_NOTICE } from './use-session.js';
import { useLiveDashboard } from './use-live-dashboard.js';
import { useRoute } from './use-route.js';
import { DeadLettersView } from './views/DeadLettersView.js';
import { DevicesView } from './views/DevicesView.js';
import { HistoryView } from './views/HistoryView.js';
import { LiveView } from './views/LiveView.js';

interface AppShellProps {
  readonly session: Session;
  readonly api: ApiClient;
  readonly onSignOut: (notice?: string | null) => void;
}

export function AppShell({ session, api, onSignOut }: AppShellProps) {
  const route = useRoute();
  const refused = useCallback(() => onSignOut(EXPIRED_NOTICE), [onSignOut]);
  const live = useLiveDashboard(api, session.token, refused);
  const signOut = useCallback(() => onSignOut(null), [onSignOut]);
  const operator = canOperate(session.role);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="app-header-top">
          <h1>Sealstream</h1>
          <NavTabs current={route} />
          <ConnectionStatus
            connection={live.view.connection}
            statsReceivedAt={live.view.statsReceivedAt}
            now={live.now}
            onReconnect={live.reconnect}
          />
          <UserBadge session={session} now={live.now} onSignOut={signOut} />
        </div>
      </header>
      <main className="app-main" id="main" tabIndex={-1} data-view={route}>
        {route === 'live' && <LiveView live={live} />}
        {route === 'history' && <HistoryView api={api} />}
        {route === 'devices' && <DevicesView api={api} canOperate={operator} />}
        {route === 'dead-letters' && <DeadLettersView api={api} canOperate={operator} />}
      </main>
    </>
  );
}
