/**
 * Time ranges for the history view: named presets relative to now, or a custom from/to typed in
 * local time (the <input type="datetime-local"> format), resolved to absolute ms when a query runs.
 */

export type RangePreset = '15m' | '1h' | '6h' | '24h' | '7d' | '30d' | 'custom';

export const PRESETS: ReadonlyArray<readonly [RangePreset, string, number]> = [
  ['15m', 'Last 15 minutes', 15 * 60_000],
  ['1h', 'Last hour', 3_600_000],
  ['6h', 'Last 6 hours', 6 * 3_600_000],
  ['24h', 'Last 24 hours', 24 * 3_600_000],
  ['7d', 'Last 7 days', 7 * 86_400_000],
  ['30d', 'Last 30 days', 30 * 86_400_000],
];

export interface RangeChoice {
  readonly preset: RangePreset;
  /** datetime-local text, used when preset is 'custom'. */
  readonly from: string;
  readonly to: string;
}

const pad = (value: number): string => String(value).padStart(2, '0');

/** ms since epoch as datetime-local text in local time ("2026-11-23T10:05"). */
export function toLocalInput(ms: number): string {
  const date = new Date(ms);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** datetime-local text as ms since epoch, NaN when it is not a date. */
export function fromLocalInput(text: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text) ? new Date(text).getTime() : Number.NaN;
}

/** The absolute range of a choice, or an error sentence. */
export function resolveRange(choice: RangeChoice, now: number): { from: number; to: number } | { error: string } {
  if (choice.preset !== 'custom') {
    const span = PRESETS.find(([preset]) => preset === choice.preset)?.[2] ?? 3_600_000;
    return { from: now - span, to: now };
  }
  const from = fromLocalInput(choice.from);
  const to = fromLocalInput(choice.to);
  if (!Number.isFinite(from) || !Number.isFinite(to)) return { error: 'Enter both a start and an end time.' };
  if (to <= from) return { error: 'The end must be after the start.' };
  return { from, to };
}
