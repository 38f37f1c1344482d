/**
 * One devices-table row. The whole row is the control that follows the device: focusable, and
 * Enter or Space act like a click. Memoised: it re-renders when its device changes, when the
 * selection moves to or from it, or once a second for the age column.
 */
import { memo } from 'react';
import type { KeyboardEvent } from 'react';
import type { DeviceRowView } from '../device-registry.js';
import { formatAge, formatDateTime, formatMetric, formatUnknown } from '../format.js';
import { Sparkline } from './Sparkline.js';

const METRICS_SHOWN = 4;
/** Every row is exactly this tall (styles.css pins it), so the table can window rows by arithmetic. */
export const DEVICE_ROW_HEIGHT = 36;

interface DeviceRowProps {
  /** Position in the (filtered) table, for keyboard navigation and aria-rowindex. */
  readonly index: number;
  readonly device: DeviceRowView;
  readonly now: number;
  readonly followed: boolean;
  readonly onFollow: (device: string) => void;
}

function DeviceRowComponent({ index, device, now, followed, onFollow }: DeviceRowProps) {
  const onKeyDown = (event: KeyboardEvent<HTMLTableRowElement>): void => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onFollow(device.id);
    }
  };
  const shown = device.metrics.slice(0, METRICS_SHOWN);
  const hidden = device.metrics.length - shown.length;
  const allMetrics = [
    ...device.metrics.map(([name, value]) => `${name} ${formatMetric(value)}`),
    ...device.texts.map(([name, value]) => `${name} ${value}`),
  ].join(', ');
  return (
    <tr
      className={followed ? 'device-row is-followed' : 'device-row'}
      tabIndex={0}
      aria-current={followed ? 'true' : undefined}
      aria-label={`${device.id}${followed ? ' (followed)' : ''}: press Enter to follow its live readings`}
      data-device={device.id}
      data-index={index}
      aria-rowindex={index + 2}
      style={{ height: DEVICE_ROW_HEIGHT }}
      onClick={() => onFollow(device.id)}
      onKeyDown={onKeyDown}
    >
      <th scope="row" className="mono">
        {device.id}
      </th>
      <td className="num" title={`seq ${device.seq}`}>
        {device.seq}
      </td>
      <td className="num" title={formatDateTime(device.ts)}>
        {formatAge(now - device.ts)}
      </td>
      <td className="metrics" title={allMetrics}>
        {shown.length === 0 && device.texts.length > 0 ? (
          device.texts.map(([name, value]) => (
            <span className="metric" key={name}>
              <span className="metric-name">{name}</span> <span>{formatUnknown(value, 24)}</span>
            </span>
          ))
        ) : shown.length === 0 ? (
          <span className="muted">no fields to show</span>
        ) : (
          shown.map(([name, value]) => (
            <span className="metric" key={name}>
              <span className="metric-name">{name}</span> <span className="mono">{formatMetric(value)}</span>
            </span>
          ))
        )}
        {hidden > 0 && <span className="muted"> +{hidden} more</span>}
      </td>
      <td>
        <Sparkline values={device.trend} label={device.trendMetric ?? 'trend'} />
      </td>
    </tr>
  );
}

export const DeviceRow = memo(DeviceRowComponent);
