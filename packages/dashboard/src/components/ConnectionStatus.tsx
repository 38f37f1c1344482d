/**
 * The connection indicator: the Socket.IO link state in words and colour, how long it has been in
 * that state, the last error, and a Reconnect button once nothing retries by itself. It also flags
 * a link that is up but has stopped delivering stats, so a stalled live view never looks healthy.
 */
import { formatAge } from '../format.js';
import type { ConnectionInfo } from '../live-store.js';

/** Stats arrive about every second; this long without one means the feed has stalled. */
const STALE_AFTER_MS = 10_000;

interface ConnectionStatusProps {
  readonly connection: ConnectionInfo;
  readonly statsReceivedAt: number | null;
  readonly now: number;
  readonly onReconnect: () => void;
}

function label(connection: ConnectionInfo): string {
  switch (connection.state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return connection.attempt > 0 ? `Connecting… (attempt ${connection.attempt})` : 'Connecting…';
    case 'reconnecting':
      return connection.attempt > 0 ? `Reconnecting… (attempt ${connection.attempt})` : 'Reconnecting…';
    case 'disconnected':
      return 'Disconnected';
  }
}

export function ConnectionStatus({ connection, statsReceivedAt, now, onReconnect }: ConnectionStatusProps) {
  const stalledFor =
    connection.state === 'connected' && statsReceivedAt !== null && now - statsReceivedAt > STALE_AFTER_MS
      ? now - statsReceivedAt
      : null;
  const showError = connection.state !== 'connected' && connection.lastError !== null;
  return (
    <div className="connection">
      <p
        className="connection-status"
        data-testid="connection-status"
        data-state={connection.state}
        role="status"
        aria-live="polite"
      >
        <span className="connection-dot" aria-hidden="true" />
        <span className="connection-label">{label(connection)}</span>
        {connection.state !== 'connected' && now - connection.since >= 1000 && (
          <span className="connection-since"> for {formatAge(now - connection.since)}</span>
        )}
      </p>
      {showError && <p className="connection-error">Last error: {connection.lastError}</p>}
      {stalledFor !== null && <p className="connection-stale">No stats for {formatAge(stalledFor)}</p>}
      {connection.state === 'disconnected' && (
        <button type="button" className="button" onClick={onReconnect}>
          Reconnect
        </button>
      )}
    </div>
  );
}
