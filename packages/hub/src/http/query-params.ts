/**
 * Request parameters shared by the query routes: time bounds (ms since the epoch or ISO 8601) and opaque
 * page cursors (base64url JSON the client hands back unchanged). A bad value is the caller's error and
 * answers validation_failed / bad_request, never a 500.
 */
import { Type } from '@sinclair/typebox';
import { ApiError } from './api-errors.js';

export const TimeParam = Type.String({
  description: 'ms since the Unix epoch, or an ISO 8601 date-time (e.g. 2026-11-23T08:00:00Z)',
  maxLength: 40,
});

export const CursorParam = Type.String({
  description: 'opaque; pass back the `nextCursor` of the previous page unchanged',
  maxLength: 512,
  pattern: '^[A-Za-z0-9_-]+$',
});

export function parseTime(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = /^-?[0-9]{1,16}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) {
    throw new ApiError('validation_failed', 'the request does not match the schema', [
      { in: 'querystring', path: `/${name}`, message: 'must be ms since the epoch or an ISO 8601 date-time' },
    ]);
  }
  return value;
}

/** [from, to) with defaults (the last `defaultSpanMs` up to now) and from < to enforced. */
export function parseRange(
  query: { from?: string; to?: string },
  nowMs: number,
  defaultSpanMs: number,
): { fromMs: number; toMs: number } {
  const toMs = parseTime(query.to, 'to', nowMs);
  const fromMs = parseTime(query.from, 'from', toMs - defaultSpanMs);
  if (fromMs >= toMs) {
    throw new ApiError('validation_failed', 'the request does not match the schema', [
      { in: 'querystring', path: '/from', message: 'must be before `to`' },
    ]);
  }
  return { fromMs, toMs };
}

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Decodes and checks a cursor with `accept`; anything unexpected is bad_request. */
export function decodeCursor<T>(text: string | undefined, accept: (value: unknown) => value is T): T | null {
  if (text === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new ApiError('bad_request', 'the cursor is not one this API issued');
  }
  if (!accept(value)) throw new ApiError('bad_request', 'the cursor is not one this API issued');
  return value;
}

export const isNumberPair = (value: unknown): value is [number, number] =>
  Array.isArray(value) && value.length === 2 && value.every((part) => Number.isSafeInteger(part));
