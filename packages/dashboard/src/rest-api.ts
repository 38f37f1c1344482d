/**
 * The hub's REST endpoints the dashboard reads: current stats and the newest dead letters.
 * Answers are checked field by field before use; a wrong shape is reported as a value
 * ({ ok: false, error }) like any HTTP or network failure, so the page can say what failed.
 */
import type { DeadLetterItem, LiveStats } from './contract.js';

export type Fetched<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

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
    typeof value['truncated'] === 'boolean';
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

async function getJson<T>(path: string, parse: (body: unknown) => T | null, signal: AbortSignal): Promise<Fetched<T>> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json' }, signal });
  } catch (error) {
    return { ok: false, error: `${path}: ${error instanceof Error ? error.message : 'network error'}` };
  }
  if (!response.ok) return { ok: false, error: `${path}: HTTP ${response.status}` };
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return { ok: false, error: `${path}: answer is not JSON` };
  }
  const value = parse(body);
  return value === null ? { ok: false, error: `${path}: unexpected answer shape` } : { ok: true, value };
}

export function fetchStats(signal: AbortSignal): Promise<Fetched<LiveStats>> {
  return getJson('/api/v1/stats', parseStats, signal);
}

export function fetchDeadLetters(
  signal: AbortSignal,
  limit = DEAD_LETTER_PAGE_SIZE,
): Promise<Fetched<DeadLetterItem[]>> {
  return getJson(`/api/v1/dead-letters?limit=${limit}`, parseDeadLetterPage, signal);
}
