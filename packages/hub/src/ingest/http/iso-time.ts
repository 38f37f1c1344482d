/**
 * ISO-8601 times as the InsightHub ingest route accepts them (`2026-11-23T10:38:45.123Z`, seconds and
 * fraction optional, `Z` or a ±hh:mm offset), to ms since the epoch. Date.parse alone is too lenient:
 * it rolls impossible dates over (2026-11-31 becomes 2026-12-01), storing a time the sender never meant.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/;

/** ms since the epoch, or null when `text` is not an ISO time of a real calendar date and clock time. */
export function isoTimeToMs(text: string): number | null {
  // What JavaScript's toISOString prints (XRayIOT's capturedAt and signing time, twice per AMQP message)
  // is read digit by digit; every other form, or a miss, takes the general path below.
  const fast = canonicalIsoToMs(text);
  return fast === undefined ? generalIsoToMs(text) : fast;
}

const CANONICAL_LENGTH = 24; // YYYY-MM-DDTHH:MM:SS.mmmZ
const ZERO = 48;
/** Days per month of a non-leap year (index 1..12). */
const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Value of the `count` decimal digits at `at`, or -1 when one is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i += 1) {
    const digit = text.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.mmmZ` without a regex or any allocation: ms, null when it has that form but is
 * not a real date or time (as the general path answers), undefined when it does not have that form.
 * Years below 100 go the general way (Date.UTC would read them as 19xx).
 */
function canonicalIsoToMs(text: string): number | null | undefined {
  if (
    text.length !== CANONICAL_LENGTH ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  ) {
    return undefined;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const ms = digitsAt(text, 20, 3);
  if (year < 100 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || ms < 0) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : (MONTH_DAYS[month] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

function generalIsoToMs(text: string): number | null {
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
