/**
 * Live readings of the followed device: every reading from its Socket.IO room, newest first,
 * capped at the store's bound. Shows hub latency (commit time minus device time) per reading.
 */
import type { LiveReading } from '../contract.js';
import { formatAge, formatClock, formatCount, formatUnknown } from '../format.js';
import type { FollowedDeviceView } from '../live-store.js';

interface DeviceReadingsProps {
  readonly followed: FollowedDeviceView | null;
  readonly onStop: () => void;
}

function dataText(reading: LiveReading): string {
  return Object.entries(reading.data)
    .map(([name, value]) => `${name}=${formatUnknown(value, 40)}`)
    .join('  ');
}

export function DeviceReadings({ followed, onStop }: DeviceReadingsProps) {
  if (followed === null) {
    return (
      <section className="panel" aria-labelledby="live-heading" data-testid="device-readings">
        <h2 id="live-heading">Live readings</h2>
        <p className="empty">Select a device in the table to follow its every reading.</p>
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="live-heading" data-testid="device-readings">
      <div className="panel-head">
        <h2 id="live-heading">
          Live readings <span className="mono">{followed.device}</span>
        </h2>
        <span className="muted">
          {followed.readings.length} of last {followed.capacity}
        </span>
        <button type="button" className="button" onClick={onStop}>
          Stop following
        </button>
      </div>
      {followed.dropped > 0 && (
        <p className="notice">
          The hub skipped {formatCount(followed.dropped)} readings of this device for this client.
        </p>
      )}
      <div className="table-scroll">
        <table className="table">
          <caption className="visually-hidden">Readings of {followed.device}, newest first</caption>
          <thead>
            <tr>
              <th scope="col" className="num">
                Seq
              </th>
              <th scope="col">Device time</th>
              <th scope="col" className="num">
                Latency
              </th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {followed.readings.map((reading) => {
              const text = dataText(reading);
              return (
                <tr key={`${reading.seq}:${reading.ts}`}>
                  <td className="num">{reading.seq}</td>
                  <td className="mono">{formatClock(reading.ts)}</td>
                  <td className="num">{formatLatency(reading.committedAt - reading.ts)}</td>
                  <td className="mono data-cell" title={text}>
                    {text}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {followed.readings.length === 0 && <p className="empty">Waiting for readings of {followed.device}…</p>}
      </div>
    </section>
  );
}

function formatLatency(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  return ms < 0 ? `−${formatAge(-ms)}` : formatAge(ms);
}
