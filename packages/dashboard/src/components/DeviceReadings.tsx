/**
 * Live readings of the followed device: every reading from its Socket.IO room, newest first,
 * capped at the store's bound. Shows hub latency (commit time minus device time) per reading.
 * Rows have a fixed height and only those in the scroll box are rendered: at thousands of readings
 * a second every row moves on each update, and painting 200 of them was the page's main cost.
 */
import type { LiveReading } from '../contract.js';
import { formatAge, formatCount, formatDateTime, formatUnknown } from '../format.js';
import type { FollowedDeviceView } from '../live-store.js';
import { useRowWindow, windowRange } from '../use-row-window.js';
import { FollowedChart } from './FollowedChart.js';

/** Pinned by styles.css (.readings-table rows), so the window can be computed from scrollTop. */
export const READING_ROW_HEIGHT = 30;
const OVERSCAN = 6;

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
  const [rowWindow, scrollRef] = useRowWindow(READING_ROW_HEIGHT);
  if (followed === null) {
    return (
      <section className="panel" aria-labelledby="live-heading" data-testid="device-readings">
        <h2 id="live-heading">Live readings</h2>
        <p className="empty">Select a device in the table to follow its every reading.</p>
      </section>
    );
  }
  const { start, end } = windowRange(rowWindow, followed.readings.length, OVERSCAN);
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
      <FollowedChart device={followed.device} readings={followed.readings} />
      <div className="table-scroll" ref={scrollRef}>
        <table className="table readings-table">
          <caption className="visually-hidden">Readings of {followed.device}, newest first</caption>
          {/* Fixed column widths: a new reading at the top does not re-measure every row (10K readings/s). */}
          <colgroup>
            <col className="col-seq" />
            <col className="col-time" />
            <col className="col-latency" />
            <col />
          </colgroup>
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
            {start > 0 && (
              <tr className="spacer-row" aria-hidden="true">
                <td colSpan={4} style={{ height: start * READING_ROW_HEIGHT }} />
              </tr>
            )}
            {followed.readings.slice(start, end).map((reading) => {
              const text = dataText(reading);
              return (
                <tr key={`${reading.seq}:${reading.ts}`} style={{ height: READING_ROW_HEIGHT }}>
                  <td className="num">{reading.seq}</td>
                  <td className="mono nowrap">{formatDateTime(reading.ts)}</td>
                  <td className="num">{formatLatency(reading.committedAt - reading.ts)}</td>
                  <td className="mono data-cell" title={text}>
                    {text}
                  </td>
                </tr>
              );
            })}
            {end < followed.readings.length && (
              <tr className="spacer-row" aria-hidden="true">
                <td colSpan={4} style={{ height: (followed.readings.length - end) * READING_ROW_HEIGHT }} />
              </tr>
            )}
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
