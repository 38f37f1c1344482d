/**
 * The devices view's table rows computed from the API's device summaries: last seen (the newest
 * reading's time, not its minute's start), readings per second (the hub averages over the last hour, or
 * over the time since the device began when that is shorter), the reject share of everything the device sent, a status that reads the same whether or
 * not the hub has device registration yet, and the order (registered problems first is not guessed:
 * rows sort by id, numeric-aware).
 */
import type { DeviceStatus, DeviceSummary } from './api/device-api.js';

export interface FleetRow {
  readonly id: string;
  readonly name: string | null;
  readonly status: DeviceStatus | 'seen';
  /** The newest reading's time when the hub says it, else the start of its newest minute. */
  readonly lastSeen: number | null;
  /** Valid readings per second over the last hour, or over the time since the device began within it. */
  readonly ratePerSec: number;
  /** Percent of received readings that were refused, all time; null when nothing was received. */
  readonly rejectPercent: number | null;
  readonly totalValid: number;
  readonly totalInvalid: number;
}

const byId = new Intl.Collator('en', { numeric: true }).compare;

export function fleetRow(summary: DeviceSummary): FleetRow {
  const received = summary.totalValid + summary.totalInvalid;
  return {
    id: summary.device,
    name: summary.name,
    status: summary.status ?? 'seen',
    lastSeen: summary.lastReadingAt ?? summary.lastSeen,
    ratePerSec: summary.perMinuteLastHour / 60,
    rejectPercent: received === 0 ? null : (summary.totalInvalid / received) * 100,
    totalValid: summary.totalValid,
    totalInvalid: summary.totalInvalid,
  };
}

export function fleetRows(summaries: readonly DeviceSummary[], filter: string): FleetRow[] {
  const needle = filter.trim().toLowerCase();
  return summaries
    .filter(
      (summary) =>
        needle === '' ||
        summary.device.toLowerCase().includes(needle) ||
        (summary.name?.toLowerCase().includes(needle) ?? false),
    )
    .map(fleetRow)
    .sort((a, b) => byId(a.id, b.id));
}
