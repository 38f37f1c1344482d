/**
 * Choosing the devices to chart: a filterable checkbox list of the fleet (from GET /devices), with a
 * cap on how many can be charted at once so the chart stays readable and the requests few.
 */
import { useId, useMemo, useState } from 'react';
import type { DeviceSummary } from '../api/device-api.js';

interface DevicePickerProps {
  readonly devices: readonly DeviceSummary[];
  readonly selected: readonly string[];
  readonly onChange: (selected: string[]) => void;
}

export const MAX_CHARTED_DEVICES = 8;
const MAX_LISTED = 200;
const byId = new Intl.Collator('en', { numeric: true }).compare;

export function DevicePicker({ devices, selected, onChange }: DevicePickerProps) {
  const [filter, setFilter] = useState('');
  const filterId = useId();
  const ids = useMemo(() => devices.map((device) => device.device).sort(byId), [devices]);
  const needle = filter.trim().toLowerCase();
  const matching = needle === '' ? ids : ids.filter((id) => id.toLowerCase().includes(needle));
  const listed = matching.slice(0, MAX_LISTED);
  const full = selected.length >= MAX_CHARTED_DEVICES;

  const toggle = (id: string, on: boolean): void => {
    onChange(on ? [...selected, id] : selected.filter((item) => item !== id));
  };

  return (
    <fieldset className="device-picker" data-testid="device-picker">
      <legend>
        Devices ({selected.length} of at most {MAX_CHARTED_DEVICES})
      </legend>
      <label className="filter" htmlFor={filterId}>
        Find
        <input
          id={filterId}
          type="search"
          value={filter}
          placeholder="device id"
          onChange={(e) => setFilter(e.target.value)}
        />
      </label>
      <ul className="picker-list">
        {listed.map((id) => {
          const checked = selected.includes(id);
          return (
            <li key={id}>
              <label>
                <input
                  type="checkbox"
                  checked={checked}
                  disabled={!checked && full}
                  data-device={id}
                  onChange={(event) => toggle(id, event.target.checked)}
                />{' '}
                <span className="mono">{id}</span>
              </label>
            </li>
          );
        })}
      </ul>
      {matching.length > listed.length && (
        <p className="muted">{matching.length - listed.length} more; type to narrow.</p>
      )}
      {ids.length === 0 && <p className="muted">No devices have sent data yet.</p>}
    </fieldset>
  );
}
