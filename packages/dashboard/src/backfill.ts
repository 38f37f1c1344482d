/**
 * Recovering what the live link missed while it was down: rejects received since the outage began
 * (dead letters by receive time) and the followed device's readings by device time, read from the
 * REST API in bounded pages. Everything is read with a small margin before the outage start, since
 * the duplicates it brings are merged away.
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
const PAGE = 1000;
const REJECTS = 200;

export interface BackfillResult {
  readonly readings: number;
  readonly rejects: number;
  readonly device: string | null;
  readonly error: string | null;
}

export async function backfill(
  api: ApiClient,
  store: LiveStore,
  outage: { readonly from: number; readonly to: number },
  signal: AbortSignal,
): Promise<BackfillResult> {
  const from = outage.from - BACKFILL_MARGIN_MS;
  const errors: string[] = [];
  let rejects = 0;
  const letters = await fetchDeadLetters(api, signal, { from, limit: REJECTS });
  if (letters.ok) {
    store.applyDeadLetters(letters.value.items);
    rejects = letters.value.items.filter((item) => item.receivedAt >= outage.from).length;
  } else errors.push(letters.error);

  const device = store.followedDeviceId;
  let readings = 0;
  if (device !== null) {
    const range = { from, to: Date.now() + 1000 };
    const recovered: LiveReading[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < BACKFILL_MAX_PAGES && !signal.aborted; page += 1) {
      const answer = await fetchReadings(api, device, range, PAGE, cursor, signal);
      if (!answer.ok) {
        errors.push(answer.error);
        break;
      }
      for (const item of answer.value.items) {
        recovered.push({
          device: item.device,
          seq: item.seq,
          ts: item.ts,
          committedAt: item.receivedAt,
          data: item.data,
        });
      }
      cursor = answer.value.nextCursor;
      if (cursor === null) break;
    }
    readings = store.backfillFollowed(device, recovered);
  }
  return { readings, rejects, device, error: errors.length === 0 ? null : errors.join('; ') };
}
