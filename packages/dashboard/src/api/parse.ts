/** Small shape checks shared by the REST answer parsers: the API is another process, so trust nothing. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
export const isString = (value: unknown): value is string => typeof value === 'string';
export const isNullableNumber = (value: unknown): value is number | null => value === null || isNumber(value);
export const isNullableString = (value: unknown): value is string | null => value === null || isString(value);

/** `{ items: [...] , nextCursor }` with each item checked; malformed items are skipped, not fatal. */
export function parsePage<T>(
  body: unknown,
  parseItem: (item: unknown) => T | null,
): { items: T[]; nextCursor: string | null } | null {
  if (!isObject(body) || !Array.isArray(body['items'])) return null;
  const items: T[] = [];
  for (const raw of body['items'] as unknown[]) {
    const item = parseItem(raw);
    if (item !== null) items.push(item);
  }
  const next = body['nextCursor'];
  return { items, nextCursor: isString(next) ? next : null };
}
