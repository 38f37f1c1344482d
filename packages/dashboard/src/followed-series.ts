/**
 * The followed device's buffered readings as chart columns: device time (seconds) and up to
 * MAX_SERIES numeric fields, in the order the device sends them, oldest first. Fields missing from a
 * reading become gaps.
 */
import type { LiveReading } from './contract.js';

export const MAX_SERIES = 3;

export interface FollowedSeries {
  readonly names: string[];
  readonly times: number[];
  readonly columns: Array<Array<number | null>>;
}

/** `newestFirst` is the followed view's order; the chart wants oldest first. */
export function followedSeries(newestFirst: readonly LiveReading[]): FollowedSeries {
  const names: string[] = [];
  for (let i = newestFirst.length - 1; i >= 0 && names.length < MAX_SERIES; i -= 1) {
    for (const [name, value] of Object.entries(newestFirst[i]?.data ?? {})) {
      if (names.length >= MAX_SERIES) break;
      if (typeof value === 'number' && Number.isFinite(value) && !names.includes(name)) names.push(name);
    }
  }
  const times: number[] = [];
  const columns = names.map(() => [] as Array<number | null>);
  for (let i = newestFirst.length - 1; i >= 0; i -= 1) {
    const reading = newestFirst[i];
    if (reading === undefined) continue;
    times.push(reading.ts / 1000);
    names.forEach((name, column) => {
      const value = reading.data[name];
      columns[column]?.push(typeof value === 'number' && Number.isFinite(value) ? value : null);
    });
  }
  return { names, times, columns };
}
