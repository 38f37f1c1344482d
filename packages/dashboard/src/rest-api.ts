/**
 * The hub's REST endpoints the live view reads: current stats and the newest dead letters.
 * Answers are checked field by field before use; a wrong shape is reported as a value
 * ({ ok: false, error }) like any HTTP or network failure, so the page can say what failed.
 */
import type { ApiClient, Fetched } from './api/api-client.js';
import type { DeadLetterItem, LiveStats } from './contract.js';
import type { RateSample } from './live-store.js';

export type { Fetched } from './api/api-client.js';

export const DEAD_LETTER_PAGE_SIZE = 50;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === 'string';

export function parseStats(body: unknown): LiveStats | null {
  if (!isObject(body)) return null;
  const numeric = [
    'totalReceived',
    'totalValid',
    'totalInvalid',
    'totalDuplicate',
    'successRate',
    'readingsPerSec',
    'rejectsPerSec',
    'at',
  ] as const;
  if (!numeric.every((field) => isNumber(body[field]))) return null;
  const byReason = body['rejectsByReason'];
  if (!isObject(byReason) || !Object.values(byReason).every(isNumber)) return null;
  return body as unknown as LiveStats;
}

export function parseDeadLetter(value: unknown): DeadLetterItem | null {
  if (!isObject(value)) return null;
  const ok =
    isString(value['id']) &&
    isString(value['reason']) &&
    isString(value['source']) &&
    isString(value['peer']) &&
    (value['device'] === null || isString(value['device'])) &&
    isString(value['detail']) &&
    isNumber(value['receivedAt']) &&
    isString(value['rawHex']) &&
    typeof value['truncated'] === 'boolean' &&
    (value['redrivenAt'] === undefined || value['redrivenAt'] === null || isNumber(value['redrivenAt'])) &&
    (value['redriveOutcome'] === undefined || value['redriveOutcome'] === null || isString(value['redriveOutcome']));
  return ok ? (value as unknown as DeadLetterItem) : null;
}

/** Malformed items are skipped rather than failing the whole page. */
export function parseDeadLetterPage(body: unknown): DeadLetterItem[] | null {
  if (!isObject(body) || !Array.isArray(body['items'])) return null;
  const items: DeadLetterItem[] = [];
  for (const raw of body['items'] as unknown[]) {
    const item = parseDeadLetter(raw);
    if (item !== null) items.push(item);
  }
  return items;
}

export function fetchStats(api: ApiClient, signal: AbortSignal): Promise<Fetched<LiveStats>> {
  return api.getJson('/api/v1/stats', parseStats, { signal });
}

/** GET /api/v1/stats/rates: the stats' rates once a second over the last five minutes; bad points are skipped. */
export function parseRates(body: unknown): RateSample[] | null {
  if (!isObject(body) || !Array.isArray(body['items'])) return null;
  const points: RateSample[] = [];
  for (const item of body['items'] as unknown[]) {
    if (isObject(item) && isNumber(item['at']) && isNumber(item['readingsPerSec']) && isNumber(item['rejectsPerSec'])) {
      points.push({ at: item['at'], readingsPerSec: item['readingsPerSec'], rejectsPerSec: item['rejectsPerSec'] });
    }
  }
  return points;
}

export function fetchRates(api: ApiClient, signal: AbortSignal): Promise<Fetched<RateSample[]>> {
  return api.getJson('/api/v1/stats/rates', parseRates, { signal });
}

export interface DeadLetterQuery {
  readonly limit?: number;
  readonly reason?: string;
  readonly device?: string;
  /** Receive time lower bound, ms since epoch. */
  readonly from?: number;
  readonly cursor?: string;
}

export interface DeadLetterPageAnswer {
  readonly items: DeadLetterItem[];
  readonly nextCursor: string | null;
}

export function deadLetterPath(query: DeadLetterQuery): string {
  const params = new URLSearchParams({ limit: String(query.limit ?? DEAD_LETTER_PAGE_SIZE) });
  if (query.reason !== undefined && query.reason !== '') params.set('reason', query.reason);
  if (query.device !== undefined && query.device !== '') params.set('device', query.device);
  if (query.from !== undefined) params.set('from', String(Math.floor(query.from)));
  if (query.cursor !== undefined) params.set('cursor', query.cursor);
  return `/api/v1/dead-letters?${params.toString()}`;
}

export function parseDeadLetterPageAnswer(body: unknown): DeadLetterPageAnswer | null {
  const items = parseDeadLetterPage(body);
  if (items === null) return null;
  const next = (body as JsonObject)['nextCursor'];
  return { items, nextCursor: typeof next === 'string' ? next : null };
}

export function fetchDeadLetters(
  api: ApiClient,
  signal: AbortSignal,
  query: DeadLetterQuery = {},
): Promise<Fetched<DeadLetterPageAnswer>> {
  return api.getJson(deadLetterPath(query), parseDeadLetterPageAnswer, { signal });
}
