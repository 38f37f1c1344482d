/**
 * One device's registry record and keys, with the operator actions: rotate the key (the old ones
 * keep working for an overlap period), revoke one key, revoke the whole device. Destructive actions
 * ask for a second click instead of a browser confirm dialog, so they work by keyboard and in tests.
 * Viewers see the same facts and no action buttons.
 */
import { useCallback, useId, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { IssuedCredentials, KeyRecord } from '../api/device-api.js';
import { fetchDeviceDetail, revokeDevice, revokeKey, rotateKey } from '../api/device-api.js';
import { formatDateTime } from '../format.js';
import { useFetched, valueOf } from '../use-fetched.js';

interface DeviceKeysPanelProps {
  readonly api: ApiClient;
  readonly device: string;
  readonly canOperate: boolean;
  readonly onIssued: (credentials: IssuedCredentials) => void;
  /** After a change, so the fleet list shows the new status. */
  readonly onChanged: () => void;
}

const OVERLAPS: ReadonlyArray<readonly [seconds: number, label: string]> = [
  [0, 'none (old key stops now)'],
  [3600, '1 hour'],
  [86_400, '1 day'],
  [7 * 86_400, '7 days'],
];

export function DeviceKeysPanel({ api, device, canOperate, onIssued, onChanged }: DeviceKeysPanelProps) {
  const load = useCallback((signal: AbortSignal) => fetchDeviceDetail(api, device, signal), [api, device]);
  const { loaded, reload } = useFetched(load);
  const detail = valueOf(loaded);
  const [overlap, setOverlap] = useState(86_400);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const overlapId = useId();

  const act = async (action: () => Promise<{ ok: boolean; error?: string }>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    const answer = await action();
    setBusy(false);
    setConfirming(null);
    if (!answer.ok) setError(answer.error ?? 'failed');
    reload();
    onChanged();
    return answer.ok;
  };

  const rotate = (): void => {
    void act(async () => {
      const answer = await rotateKey(api, device, overlap);
      if (answer.ok) onIssued(answer.value);
      return answer;
    });
  };

  const revokeOne = (key: KeyRecord): void => {
    if (confirming !== key.keyId) {
      setConfirming(key.keyId);
      return;
    }
    void act(() => revokeKey(api, device, key.keyId));
  };

  const revokeAll = (): void => {
    if (confirming !== '*device*') {
      setConfirming('*device*');
      return;
    }
    void act(() => revokeDevice(api, device));
  };

  const notRegistered = loaded.state === 'error' && loaded.error.includes('not_found');
  const revoked = detail?.device.status === 'revoked';
  return (
    <section className="panel" aria-labelledby="keys-heading" data-testid="device-keys">
      <div className="panel-head">
        <h2 id="keys-heading">
          Keys of <span className="mono">{device}</span>
        </h2>
        {detail !== null && (
          <span className={`status-tag is-${detail.device.status}`} data-testid="device-status">
            {detail.device.status}
          </span>
        )}
      </div>
      {loaded.state === 'loading' && detail === null && <p className="muted">Loading…</p>}
      {loaded.state === 'error' && (
        <p className="notice is-error">
          {notRegistered
            ? 'This device sends data but is not registered (it uses a shared or configured key).'
            : `Could not load the device: ${loaded.error}`}
        </p>
      )}
      {detail !== null && (
        <>
          <p className="muted">
            Registered {formatDateTime(detail.device.createdAt)}
            {detail.device.name !== null && ` as “${detail.device.name}”`}
            {detail.device.revokedAt !== null && `; revoked ${formatDateTime(detail.device.revokedAt)}`}.
          </p>
          <div className="table-scroll">
            <table className="table" data-testid="keys">
              <caption className="visually-hidden">Keys of {device}</caption>
              <thead>
                <tr>
                  <th scope="col">Key id</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  {canOperate && <th scope="col">Action</th>}
                </tr>
              </thead>
              <tbody>
                {detail.keys.map((key) => (
                  <tr key={key.keyId} data-key-id={key.keyId} data-key-status={key.status}>
                    <th scope="row" className="mono">
                      {key.keyId}
                    </th>
                    <td>
                      <span className={`status-tag is-${key.status}`}>{key.status}</span>
                    </td>
                    <td className="nowrap">{formatDateTime(key.createdAt)}</td>
                    <td className="nowrap">{key.expiresAt === null ? '–' : formatDateTime(key.expiresAt)}</td>
                    {canOperate && (
                      <td>
                        {(key.status === 'active' || key.status === 'expiring') && (
                          <button
                            type="button"
                            className="button is-danger"
                            disabled={busy}
                            onClick={() => revokeOne(key)}
                            data-action="revoke-key"
                          >
                            {confirming === key.keyId ? 'Confirm revoke' : 'Revoke key'}
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {canOperate && detail !== null && !revoked && (
        <div className="actions" data-testid="device-actions">
          <label htmlFor={overlapId}>Old key keeps working for</label>
          <select id={overlapId} value={overlap} onChange={(event) => setOverlap(Number(event.target.value))}>
            {OVERLAPS.map(([seconds, label]) => (
              <option key={seconds} value={seconds}>
                {label}
              </option>
            ))}
          </select>
          <button type="button" className="button is-primary" disabled={busy} onClick={rotate} data-action="rotate">
            Rotate key
          </button>
          <button
            type="button"
            className="button is-danger"
            disabled={busy}
            onClick={revokeAll}
            data-action="revoke-device"
          >
            {confirming === '*device*' ? 'Confirm: revoke device and all keys' : 'Revoke device'}
          </button>
          {confirming !== null && (
            <button type="button" className="button" onClick={() => setConfirming(null)}>
              Cancel
            </button>
          )}
        </div>
      )}
      {error !== null && (
        <p className="notice is-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
