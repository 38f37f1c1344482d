/**
 * Display formatting for numbers, rates, percentages, ages and times. Pure and locale-pinned
 * ('en-US' grouping) so the same value always renders the same text and tests can assert it.
 */

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Whole counts with thousands separators: 1234567 -> "1,234,567". Non-finite -> "–". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return integerFormat.format(Math.round(value));
}

/**
 * Per-second rates: below 10 with one decimal (so 0.2/s does not read as 0), above that whole,
 * above 10,000 compact ("12.3k").
 */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '–';
  const magnitude = Math.abs(perSecond);
  if (magnitude >= 10_000) return `${trimZeros((perSecond / 1000).toFixed(1))}k`;
  if (magnitude >= 10) return formatCount(perSecond);
  return trimZeros(perSecond.toFixed(1));
}

/**
 * Percentages with at most two decimals, never rounding up to "100%" unless it is exactly 100,
 * so a few failures in millions still show ("99.99%").
 */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return '–';
  let rounded = Math.round(percent * 100) / 100;
  if (rounded >= 100 && percent < 100) rounded = 99.99;
  if (rounded <= 0 && percent > 0) rounded = 0.01;
  return `${trimZeros(rounded.toFixed(2))}%`;
}

/**
 * How long ago something happened, compact: "now", "42s", "3m 05s", "2h 07m", "3d 04h".
 * Negative ages (a device clock ahead of ours) read as "in 5s" rather than hiding the skew.
 */
export function formatAge(ageMs: number): string {
  if (!Number.isFinite(ageMs)) return '–';
  if (ageMs < 0) {
    const ahead = formatAge(-ageMs);
    return ahead === 'now' ? 'now' : `in ${ahead}`;
  }
  const seconds = Math.floor(ageMs / 1000);
  if (seconds < 1) return 'now';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${pad2(seconds % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${pad2(minutes % 60)}m`;
  const days = Math.floor(hours / 24);
  return `${days}d ${pad2(hours % 24)}h`;
}

/** A past moment in words for a sentence or a "Last seen" column: "now", "42s ago", "in 5s" (clock ahead). */
export function formatAgo(ageMs: number): string {
  const age = formatAge(ageMs);
  return age === 'now' || age === '–' || age.startsWith('in ') ? age : `${age} ago`;
}

/** Local wall-clock time with milliseconds hidden: "14:03:07". */
export function formatClock(epochMs: number): string {
  if (!Number.isFinite(epochMs)) return '–';
  const date = new Date(epochMs);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/**
 * A time-axis tick label, 24-hour local time like every other time on the dashboard (uPlot's own labels
 * are 12-hour and US-dated: "7:30pm", "12/7/26"): "14:03:07" for ticks under a minute apart, "14:03"
 * within a day, "12-07 14:00" when the axis spans days, "2026-12-07" for ticks a day or more apart.
 */
export function formatTimeTick(epochMs: number, stepMs: number, spanMs: number): string {
  if (!Number.isFinite(epochMs)) return '–';
  const date = new Date(epochMs);
  const month = pad2(date.getMonth() + 1);
  const day = pad2(date.getDate());
  if (stepMs >= 86_400_000) return `${date.getFullYear()}-${month}-${day}`;
  const clock = stepMs >= 60_000 ? formatClock(epochMs).slice(0, 5) : formatClock(epochMs);
  return spanMs > 86_400_000 ? `${month}-${day} ${clock}` : clock;
}

/** Local date and time for places where the day matters: "2025-01-31 14:03:07". */
export function formatDateTime(epochMs: number): string {
  if (!Number.isFinite(epochMs)) return '–';
  const date = new Date(epochMs);
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(epochMs)}`;
}

/**
 * A metric value: integers as-is, fractions to at most 3 decimals, tiny or huge magnitudes in
 * exponent form so the column stays narrow.
 */
export function formatMetric(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 0.001 || magnitude >= 1e9)) return value.toExponential(2);
  return trimZeros(value.toFixed(3));
}

/** Any reading field as short text; objects as compact JSON cut at `maxLength` characters. */
export function formatUnknown(value: unknown, maxLength = 80): string {
  let text: string;
  if (typeof value === 'number') text = formatMetric(value);
  else if (typeof value === 'string') text = value;
  else if (value === undefined) text = '';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > maxLength ? `${text.slice(0, Math.max(0, maxLength - 1))}…` : text;
}

/** Hex split into byte pairs in groups of 16 bytes per line, for raw dead-letter bytes. */
export function formatHexDump(hex: string): string {
  const pairs = hex.match(/[0-9a-fA-F]{2}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < pairs.length; i += 16) lines.push(pairs.slice(i, i + 16).join(' '));
  return lines.join('\n');
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
