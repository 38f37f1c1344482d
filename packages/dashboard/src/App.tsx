/** The page: header (connection, totals), rates chart, devices with the followed device, rejects. */
import { useCallback } from 'react';
import { ConnectionStatus } from './components/ConnectionStatus.js';
import { DeviceReadings } from './components/DeviceReadings.js';
import { DevicesTable } from './components/DevicesTable.js';
import { RatesChart } from './components/RatesChart.js';
import { RejectsPanel } from './components/RejectsPanel.js';
import { Totals } from './components/Totals.js';
import { useLiveDashboard } from './use-live-dashboard.js';

export function App() {
  const { view, now, follow, reconnect, maxDevices } = useLiveDashboard();
  const stopFollowing = useCallback(() => follow(null), [follow]);
  return (
    <>
      <header className="app-header">
        <div className="app-header-top">
          <h1>Sealstream</h1>
          <ConnectionStatus
            connection={view.connection}
            statsReceivedAt={view.statsReceivedAt}
            now={now}
            onReconnect={reconnect}
          />
        </div>
        <Totals stats={view.stats} stale={view.connection.state !== 'connected'} />
        {view.loadErrors.stats !== null && (
          <p className="notice is-error">Could not load stats ({view.loadErrors.stats}).</p>
        )}
      </header>
      <main className="app-main">
        <RatesChart rates={view.rates} />
        <div className="split">
          <DevicesTable
            devices={view.devices}
            now={now}
            followed={view.followed?.device ?? null}
            onFollow={follow}
            evicted={view.devicesEvicted}
            dropped={view.overviewDropped}
            maxDevices={maxDevices}
          />
          <DeviceReadings followed={view.followed} onStop={stopFollowing} />
        </div>
        <RejectsPanel
          rejects={view.rejects}
          byReason={view.stats?.rejectsByReason ?? null}
          dropped={view.rejectsDropped}
          loadError={view.loadErrors.deadLetters}
        />
      </main>
    </>
  );
}
