/**
 * The live view: totals and rates, the devices table with sparklines and the followed device's
 * readings, and recent rejects with their reasons; a notice when the link is down or was down.
 */
import { useCallback } from 'react';
import { DeviceReadings } from '../components/DeviceReadings.js';
import { DevicesTable } from '../components/DevicesTable.js';
import { OutageNotice } from '../components/OutageNotice.js';
import { RatesChart } from '../components/RatesChart.js';
import { RejectsPanel } from '../components/RejectsPanel.js';
import { Totals } from '../components/Totals.js';
import type { LiveDashboard } from '../use-live-dashboard.js';

interface LiveViewProps {
  readonly live: LiveDashboard;
}

export function LiveView({ live }: LiveViewProps) {
  const { view, now, follow, maxDevices } = live;
  const stopFollowing = useCallback(() => follow(null), [follow]);
  return (
    <>
      <section className="panel totals-panel" aria-label="Totals">
        <Totals stats={view.stats} stale={view.connection.state !== 'connected'} />
        {view.loadErrors.stats !== null && (
          <p className="notice is-error">Could not load stats ({view.loadErrors.stats}).</p>
        )}
      </section>
      <OutageNotice connection={view.connection} outage={view.lastOutage} now={now} />
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
    </>
  );
}
