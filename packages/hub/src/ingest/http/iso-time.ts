/**
 * ISO-8601 times as the InsightHub ingest route accepts them (`2026-11-23T10:38:45.123Z`, seconds and
 * fraction optional, `Z` or a ±hh:mm offset), to ms since the epoch. Date.parse alone is too lenient:
 * it rolls impossible dates over (2026-11-31 becomes 2026-12-01), storing a time the sender never meant.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/;

/** ms since the epoch, or null when `text` is not an ISO time of a real calendar date and clock time. */
export function isoTimeToMs(text: string): number | null {
  const match = ISO_TIME.exec(text);
  if (match === null) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((group) => Number(match[group])) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const [offsetHours, offsetMinutes] = [8, 9].map((group) => Number(match[group] ?? 0)) as [number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  const real =
    month >= 1 &&
    month <= 12 &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!real) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}
