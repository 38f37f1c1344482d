/**
 * Says plainly that live updates are paused while the link is down (and that the gap will be
 * back-filled), and after a reconnect how long the outage was and what was recovered from the API.
 */
import { formatAge, formatCount, formatDateTime } from '../format.js';
import type { ConnectionInfo, OutageView } from '../live-store.js';

interface OutageNoticeProps {
  readonly connection: ConnectionInfo;
  readonly outage: OutageView | null;
  readonly now: number;
}

/** A recovered outage stays mentioned this long after the link came back. */
const SHOW_RECOVERED_MS = 120_000;

export function OutageNotice({ connection, outage, now }: OutageNoticeProps) {
  if (connection.state !== 'connected') {
    const waiting = connection.state === 'connecting' && outage === null;
    return (
      <p
        className={waiting ? 'notice outage' : 'notice is-error outage'}
        role={waiting ? 'status' : 'alert'}
        data-testid="live-paused"
      >
        {waiting
          ? 'Connecting to the live feed…'
          : `Live updates paused since ${formatDateTime(connection.since)}: the link to the hub is down. ` +
            'Numbers below are the last known. When the link returns, the gap is back-filled from the API.'}
      </p>
    );
  }
  if (outage === null || now - outage.to > SHOW_RECOVERED_MS) return null;
  const fill = outage.backfill;
  let text = `Live link was down ${formatDateTime(outage.from)}–${formatDateTime(outage.to)} (${formatAge(outage.to - outage.from)}). `;
  if (fill === null) text += 'Back-filling the gap from the API…';
  else {
    text += `Back-filled from the API: ${formatCount(fill.rejects)} rejects`;
    text += fill.device === null ? '' : `, ${formatCount(fill.readings)} readings of ${fill.device}`;
    text += fill.sparklines === 0 ? '' : `, sparklines of ${formatCount(fill.sparklines)} devices`;
    text += '. Counters were reloaded.';
    if (fill.error !== null) text += ` Some of it failed: ${fill.error}.`;
  }
  return (
    <p className="notice outage" role="status" data-testid="live-backfilled">
      {text}
    </p>
  );
}
