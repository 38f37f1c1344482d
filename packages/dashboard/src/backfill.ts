/**
 * Recovering what the live link missed while it was down: rejects received since the outage began
 * (dead letters by receive time), the followed device's readings by device time, and the devices'
 * sparklines, read from the REST API in bounded pages. The followed device's readings feed both its
 * table and its sparkline; the other devices shown first in the table (at most
 * SPARKLINE_BACKFILL_DEVICES, one page each, read one after another so an outage costs a bounded
 * number of the user's rate-limited requests) feed only their sparklines. Everything is read with a
 * small margin before the outage start, since the duplicates it brings are merged away.
 */
import type { ApiClient } from './api/api-client.js';
import { fetchReadings } from './api/history-api.js';
import type { LiveReading } from './contract.js';
import type { LiveStore } from './live-store.js';
import { fetchDeadLetters } from './rest-api.js';

/** Read this much before the outage began: readings in flight when the link dropped. */
export const BACKFILL_MARGIN_MS = 5000;
/** Pages of 1000 readings read at most; the followed table keeps only the newest 200 anyway. */
export const BACKFILL_MAX_PAGES = 5;
/** Devices (besides the followed one) whose sparklines are back-filled, in table order. */
export const SPARKLINE_BACKFILL_DEVICES = 20;
const PAGE = 1000;
const REJECTS = 200;

export interface BackfillResult {
  readonly readings: number;
  readonly rejects: number;
  readonly device: string | null;
  readonly sparklines: number;
  readonly error: string | null;
}

type Range = { readonly from: number; readonly to: number };

/** Up to `maxPages` pages of a device's readings in `range`, as live readings. */
async function readRange(
  api: ApiClient,
  device: string,
  range: Range,
  maxPages: number,
  signal: AbortSignal,
): Promise<{ readings: LiveReading[]; error: string | null }> {
  const readings: LiveReading[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages && !signal.aborted; page += 1) {
    const answer = await fetchReadings(api, device, range, PAGE, cursor, signal);
    if (!answer.ok) return { readings, error: answer.error };
    for (const item of answer.value.items) {
      readings.push({ device: item.device, seq: item.seq, ts: item.ts, committedAt: item.receivedAt, data: item.data });
    }
    cursor = answer.value.nextCursor;
    if (cursor === null) break;
  }
  return { readings, error: null };
}

export async function backfill(
  api: ApiClient,
  store: LiveStore,
  outage: { readonly from: number; readonly to: number },
  signal: AbortSignal,
): Promise<BackfillResult> {
  const from = outage.from - BACKFILL_MARGIN_MS;
  const to = Date.now() + 1000;
  const errors: string[] = [];
  let rejects = 0;
  const letters = await fetchDeadLetters(api, signal, { from, limit: REJECTS });
  if (letters.ok) {
    store.applyDeadLetters(letters.value.items);
    rejects = letters.value.items.filter((item) => item.receivedAt >= outage.from).length;
  } else errors.push(letters.error);

  const device = store.followedDeviceId;
  let readings = 0;
  let sparklines = 0;
  if (device !== null) {
    const recovered = await readRange(api, device, { from, to }, BACKFILL_MAX_PAGES, signal);
    if (recovered.error !== null) errors.push(recovered.error);
    readings = store.backfillFollowed(device, recovered.readings);
    // The same answer fills the followed device's sparkline: no second request.
    if (store.backfillTrend(device, recovered.readings) > 0) sparklines += 1;
  }

  const others = store.devices
    .rows()
    .map((row) => row.id)
    .filter((id) => id !== device)
    .slice(0, SPARKLINE_BACKFILL_DEVICES);
  for (const id of others) {
    if (signal.aborted) break;
    const start = store.devices.trendWindowStart(id, from, to);
    const recovered = await readRange(api, id, { from: start, to }, 1, signal);
    if (recovered.error !== null) {
      errors.push(recovered.error);
      // One failure (hub gone again, rate limit) would repeat for every device: stop here.
      break;
    }
    if (store.backfillTrend(id, recovered.readings) > 0) sparklines += 1;
  }
  return { readings, rejects, device, sparklines, error: errors.length === 0 ? null : errors.join('; ') };
}
