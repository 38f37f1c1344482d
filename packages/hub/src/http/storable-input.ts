/**
 * Refuses API input that PostgreSQL cannot take — a NUL character or an unpaired UTF-16 surrogate in
 * any string or key of the path parameters, the query or a parsed JSON body — with `400
 * validation_failed` and a detail per place, before a route runs. Without it such a value reached a
 * query, PostgreSQL refused it, and the caller got a 503 while the log got an error. Runs after the
 * onRequest auth hooks (an anonymous caller still learns nothing about the schema). Ingest routes take
 * their bodies as raw bytes (a Buffer, not looked at here) and refuse such text per reading, with a
 * reason code and a dead letter.
 */
import { isStorableText, storableText } from '@sealstream/protocol';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './api-errors.js';

/** Problems reported per request; one is enough to refuse it. */
const MAX_ISSUES = 10;

interface Issue {
  readonly in: string;
  readonly path: string;
  readonly message: string;
}

export function refuseUnstorableInput(request: FastifyRequest): Promise<void> {
  const issues: Issue[] = [];
  collect(request.params, 'params', issues);
  collect(request.query, 'querystring', issues);
  if (!Buffer.isBuffer(request.body)) collect(request.body, 'body', issues);
  if (issues.length === 0) return Promise.resolve();
  return Promise.reject(
    new ApiError(
      'validation_failed',
      'the request holds text that cannot be stored (a NUL character or an unpaired surrogate)',
      issues,
    ),
  );
}

/** Walks `root` without recursion (a parsed body may nest deeply) and notes each unstorable string or key. */
function collect(root: unknown, where: string, issues: Issue[]): void {
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: '' }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const { value, path } = stack.pop() as { value: unknown; path: string };
    if (typeof value === 'string') {
      if (!isStorableText(value))
        issues.push({
          in: where,
          path: path === '' ? '/' : path,
          message: 'holds a NUL character or an unpaired surrogate',
        });
      continue;
    }
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i -= 1) stack.push({ value: value[i] as unknown, path: `${path}/${i}` });
      continue;
    }
    for (const key of Object.keys(value)) {
      const keyPath = `${path}/${pointerToken(key)}`;
      if (!isStorableText(key)) {
        issues.push({ in: where, path: keyPath, message: 'a key holds a NUL character or an unpaired surrogate' });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: keyPath });
    }
  }
}

/** A JSON-pointer token, cleaned so the answer never echoes the offending characters. */
function pointerToken(key: string): string {
  return storableText(key).replaceAll('~', '~0').replaceAll('/', '~1');
}
