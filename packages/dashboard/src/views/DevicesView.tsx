/**
 * The devices view: the fleet with last seen, rate and reject share (filterable), the selected
 * device's keys, and for operators the register / rotate / revoke actions with the one-time
 * credentials dialog. Reloads the list every RELOAD_MS while open.
 */
import { memo, useCallback, useEffect, useId, useMemo, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { IssuedCredentials } from '../api/device-api.js';
import { fetchDevices, MAX_LISTED_DEVICES } from '../api/device-api.js';
import { CredentialsDialog } from '../components/CredentialsDialog.js';
import { DeviceKeysPanel } from '../components/DeviceKeysPanel.js';
import { FleetTable } from '../components/FleetTable.js';
import { RegisterDeviceForm } from '../components/RegisterDeviceForm.js';
import { fleetRows } from '../fleet-rows.js';
import { formatCount } from '../format.js';
import { useFetched, valueOf } from '../use-fetched.js';

interface DevicesViewProps {
  readonly api: ApiClient;
  readonly canOperate: boolean;
}

/** The list refreshes this often (one request per page of 1000 devices; the API allows 600/min). */
const RELOAD_MS = 15_000;

function DevicesViewComponent({ api, canOperate }: DevicesViewProps) {
  const load = useCallback((signal: AbortSignal) => fetchDevices(api, signal), [api]);
  const { loaded, reload } = useFetched(load);
  const list = valueOf(loaded);
  const [filter, setFilter] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [issued, setIssued] = useState<IssuedCredentials | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const filterId = useId();

  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
      reload();
    }, RELOAD_MS);
    return () => clearInterval(timer);
  }, [reload]);

  const rows = useMemo(() => fleetRows(list?.items ?? [], filter), [list, filter]);
  const onIssued = useCallback(
    (credentials: IssuedCredentials) => {
      setIssued(credentials);
      setSelected(credentials.device);
      reload();
    },
    [reload],
  );

  return (
    <>
      <section className="panel" aria-labelledby="fleet-heading">
        <div className="panel-head">
          <h2 id="fleet-heading">Devices</h2>
          <span className="muted">{list === null ? '' : `${formatCount(list.items.length)} devices`}</span>
          <label className="filter" htmlFor={filterId}>
            Filter
            <input
              id={filterId}
              type="search"
              value={filter}
              placeholder="id or name"
              onChange={(event) => setFilter(event.target.value)}
            />
          </label>
          <button type="button" className="button" onClick={reload}>
            Refresh
          </button>
        </div>
        {canOperate && <RegisterDeviceForm api={api} onIssued={onIssued} />}
        {loaded.state === 'error' && <p className="notice is-error">Could not load devices: {loaded.error}</p>}
        {list?.cut === true && (
          <p className="notice">
            The fleet has more than {formatCount(MAX_LISTED_DEVICES)} devices; the first are listed.
          </p>
        )}
        {list === null && loaded.state === 'loading' ? (
          <p className="muted">Loading…</p>
        ) : (
          <FleetTable rows={rows} now={now} selected={selected} onSelect={setSelected} />
        )}
      </section>
      {selected !== null && (
        <DeviceKeysPanel
          key={selected}
          api={api}
          device={selected}
          canOperate={canOperate}
          onIssued={onIssued}
          onChanged={reload}
        />
      )}
      {issued !== null && <CredentialsDialog credentials={issued} onClose={() => setIssued(null)} />}
    </>
  );
}

export const DevicesView = memo(DevicesViewComponent);
