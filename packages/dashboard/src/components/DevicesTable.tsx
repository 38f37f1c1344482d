/**
 * The devices table: one row per device seen in overview batches, sorted by id, with a filter.
 * Large fleets are windowed: above WINDOW_FROM rows only the rows in (and near) the scroll box are
 * rendered, with spacer rows keeping the scroll height, so hundreds of devices updating several
 * times a second cost a few dozen row renders. Arrow keys, Page Up/Down, Home and End move focus
 * between rows, including rows not rendered yet. It also says how many devices the table's bound
 * evicted and how many overview readings the hub dropped for this client, so a partial view is
 * never mistaken for a complete one.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import { flushSync } from 'react-dom';
import type { DeviceRowView } from '../device-registry.js';
import { formatCount } from '../format.js';
import { DEVICE_ROW_HEIGHT, DeviceRow } from './DeviceRow.js';

/** Fleets up to this size render every row; larger ones render only the visible window. */
const WINDOW_FROM = 100;
/** Rows rendered beyond each edge of the scroll box, so short scrolls show no blank rows. */
const OVERSCAN = 8;
const COLUMNS = 5;

interface DevicesTableProps {
  readonly devices: readonly DeviceRowView[];
  readonly now: number;
  readonly followed: string | null;
  readonly onFollow: (device: string) => void;
  readonly evicted: number;
  readonly dropped: number;
  readonly maxDevices: number;
}

interface ScrollWindow {
  /** Index of the first row at least partly visible. */
  readonly first: number;
  /** How many rows fit in the scroll box. */
  readonly visible: number;
}

function readWindow(box: HTMLElement): ScrollWindow {
  return {
    first: Math.floor(box.scrollTop / DEVICE_ROW_HEIGHT),
    visible: Math.ceil(box.clientHeight / DEVICE_ROW_HEIGHT) + 1,
  };
}

export function DevicesTable({ devices, now, followed, onFollow, evicted, dropped, maxDevices }: DevicesTableProps) {
  const [filter, setFilter] = useState('');
  const filterId = useId();
  const scrollRef = useRef<HTMLDivElement>(null);
  const [scrollWindow, setScrollWindow] = useState<ScrollWindow>({ first: 0, visible: 16 });
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () => (needle === '' ? devices : devices.filter((device) => device.id.toLowerCase().includes(needle))),
    [devices, needle],
  );

  const syncWindow = useCallback(() => {
    const box = scrollRef.current;
    if (box === null) return;
    const next = readWindow(box);
    // Scroll events fire every frame; re-render only when the row window actually moves.
    setScrollWindow((previous) =>
      previous.first === next.first && previous.visible === next.visible ? previous : next,
    );
  }, []);

  useEffect(() => {
    const box = scrollRef.current;
    if (box === null) return;
    box.addEventListener('scroll', syncWindow, { passive: true });
    const resize = new ResizeObserver(syncWindow);
    resize.observe(box);
    return () => {
      box.removeEventListener('scroll', syncWindow);
      resize.disconnect();
    };
  }, [syncWindow]);

  const windowed = shown.length > WINDOW_FROM;
  const start = windowed ? Math.min(shown.length, Math.max(0, scrollWindow.first - OVERSCAN)) : 0;
  const end = windowed ? Math.min(shown.length, scrollWindow.first + scrollWindow.visible + OVERSCAN) : shown.length;
  const rendered = shown.slice(start, end);

  const onRowsKeyDown = (event: KeyboardEvent<HTMLTableSectionElement>): void => {
    const box = scrollRef.current;
    const row = (event.target as HTMLElement).closest<HTMLElement>('tr[data-index]');
    if (box === null || row === null) return;
    const index = Number(row.dataset['index']);
    const page = Math.max(1, Math.floor(box.clientHeight / DEVICE_ROW_HEIGHT) - 1);
    const targets: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + page,
      PageUp: index - page,
      Home: 0,
      End: shown.length - 1,
    };
    const wanted = targets[event.key];
    if (wanted === undefined) return;
    event.preventDefault();
    const target = Math.max(0, Math.min(shown.length - 1, wanted));
    let targetRow = box.querySelector<HTMLElement>(`tr[data-index="${target}"]`);
    if (targetRow === null) {
      // Not rendered yet: scroll it into the middle of the box and render that window now.
      box.scrollTop = Math.max(0, target * DEVICE_ROW_HEIGHT - box.clientHeight / 2);
      flushSync(syncWindow);
      targetRow = box.querySelector<HTMLElement>(`tr[data-index="${target}"]`);
    }
    targetRow?.focus();
  };

  return (
    <section className="panel" aria-labelledby="devices-heading">
      <div className="panel-head">
        <h2 id="devices-heading">Devices</h2>
        <span className="muted">
          {formatCount(devices.length)} seen{devices.length >= maxDevices ? ` (limit ${maxDevices})` : ''}
        </span>
        <label className="filter" htmlFor={filterId}>
          Filter
          <input
            id={filterId}
            type="search"
            value={filter}
            placeholder="device id"
            onChange={(event) => setFilter(event.target.value)}
          />
        </label>
      </div>
      {(evicted > 0 || dropped > 0) && (
        <p className="notice">
          {evicted > 0 &&
            `More than ${maxDevices} devices are reporting: the table keeps the ${maxDevices} most recently seen (${formatCount(evicted)} evictions so far). `}
          {dropped > 0 && `The hub skipped ${formatCount(dropped)} overview readings for this slow client.`}
        </p>
      )}
      <div className="table-scroll" ref={scrollRef}>
        <table className="table devices-table" data-testid="devices" aria-rowcount={shown.length + 1}>
          <caption className="visually-hidden">
            Latest reading per device; select a row to follow that device live. Arrow keys move between rows.
          </caption>
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col">Device</th>
              <th scope="col" className="num">
                Seq
              </th>
              <th scope="col" className="num">
                Age
              </th>
              <th scope="col">Latest values</th>
              <th scope="col">Trend</th>
            </tr>
          </thead>
          <tbody onKeyDown={onRowsKeyDown}>
            {start > 0 && (
              <tr className="spacer-row" aria-hidden="true">
                <td colSpan={COLUMNS} style={{ height: start * DEVICE_ROW_HEIGHT }} />
              </tr>
            )}
            {rendered.map((device, offset) => (
              <DeviceRow
                key={device.id}
                index={start + offset}
                device={device}
                now={now}
                followed={device.id === followed}
                onFollow={onFollow}
              />
            ))}
            {end < shown.length && (
              <tr className="spacer-row" aria-hidden="true">
                <td colSpan={COLUMNS} style={{ height: (shown.length - end) * DEVICE_ROW_HEIGHT }} />
              </tr>
            )}
          </tbody>
        </table>
        {shown.length === 0 && (
          <p className="empty">{devices.length === 0 ? 'No readings yet.' : 'No device matches the filter.'}</p>
        )}
      </div>
    </section>
  );
}
