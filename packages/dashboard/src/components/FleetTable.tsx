/**
 * The fleet table of the devices view: id and name, status, last seen, rate and reject share. A row
 * is a button-like control (Enter/Space or click) that opens the device's keys below the table.
 */
import type { KeyboardEvent } from 'react';
import { formatAgo, formatCount, formatPercent, formatRate } from '../format.js';
import type { FleetRow } from '../fleet-rows.js';

interface FleetTableProps {
  readonly rows: readonly FleetRow[];
  readonly now: number;
  readonly selected: string | null;
  readonly onSelect: (id: string) => void;
}

/** Rendered rows are capped; the filter narrows a larger fleet. */
export const MAX_FLEET_ROWS = 500;

export function FleetTable({ rows, now, selected, onSelect }: FleetTableProps) {
  const shown = rows.slice(0, MAX_FLEET_ROWS);
  const onKeyDown = (event: KeyboardEvent<HTMLTableRowElement>, id: string): void => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onSelect(id);
    }
  };
  return (
    <div className="table-scroll">
      <table className="table" data-testid="fleet">
        <caption className="visually-hidden">Devices; select a row to see its keys and actions</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Last seen
            </th>
            <th scope="col" className="num">
              Rate (1 h)
            </th>
            <th scope="col" className="num">
              Rejects
            </th>
            <th scope="col" className="num">
              Valid
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => (
            <tr
              key={row.id}
              className={row.id === selected ? 'device-row is-followed' : 'device-row'}
              tabIndex={0}
              data-fleet-device={row.id}
              aria-current={row.id === selected ? 'true' : undefined}
              aria-label={`${row.id}: press Enter for its keys`}
              onClick={() => onSelect(row.id)}
              onKeyDown={(event) => onKeyDown(event, row.id)}
            >
              <th scope="row">
                <span className="mono">{row.id}</span>
                {row.name !== null && <div className="muted">{row.name}</div>}
              </th>
              <td>
                <span className={`status-tag is-${row.status}`}>{row.status}</span>
              </td>
              <td className="num">{row.lastSeen === null ? 'never' : formatAgo(now - row.lastSeen)}</td>
              <td className="num">{formatRate(row.ratePerSec)}/s</td>
              <td className="num" data-tone={row.rejectPercent !== null && row.rejectPercent > 0 ? 'bad' : undefined}>
                {row.rejectPercent === null ? '–' : formatPercent(row.rejectPercent)}
              </td>
              <td className="num">{formatCount(row.totalValid)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > shown.length && (
        <p className="notice">
          Showing {MAX_FLEET_ROWS} of {formatCount(rows.length)} devices; use the filter to narrow the list.
        </p>
      )}
      {rows.length === 0 && <p className="empty">No devices.</p>}
    </div>
  );
}
