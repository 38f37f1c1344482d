/**
 * Streaming export of one device's readings over a time range as CSV or NDJSON. Rows are read in keyset
 * pages and written as the client consumes them (a pull-based stream: the next page is fetched only when
 * the socket drained the previous one), so memory stays flat and there is no row cap.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { StoredReading } from '../pipeline/ports.js';
import type { QueryStore, ReadingCursor } from './api-ports.js';
import { BEARER_SECURITY, ErrorRef, stringEnum } from './api-schemas.js';
import { parseRange, TimeParam } from './query-params.js';

export const EXPORT_PAGE_ROWS = 5000;
const CSV_HEADER = 'device,seq,ts,received_at,source,data\n';

/** RFC 4180 quoting; a leading formula character is defused so spreadsheets do not evaluate it. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function csvLine(reading: StoredReading): string {
  return `${[
    csvField(reading.device),
    String(reading.seq),
    new Date(reading.ts).toISOString(),
    new Date(reading.receivedAt).toISOString(),
    reading.source,
    csvField(JSON.stringify(reading.data)),
  ].join(',')}\n`;
}

async function* exportLines(
  store: QueryStore,
  range: { device: string; fromMs: number; toMs: number },
  format: 'csv' | 'ndjson',
  pageRows: number,
): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  let after: ReadingCursor | null = null;
  do {
    const page = await store.readingPage({ ...range, limit: pageRows, after });
    // One chunk per page keeps syscalls few while memory stays bounded by the page size.
    yield page.items.map((reading) => (format === 'csv' ? csvLine(reading) : `${JSON.stringify(reading)}\n`)).join('');
    after = page.next;
  } while (after !== null);
}

export function registerExportRoutes(
  app: FastifyInstance,
  store: QueryStore,
  authorize: onRequestAsyncHookHandler,
  options: { now?: () => number; pageRows?: number } = {},
): void {
  const now = options.now ?? Date.now;
  const pageRows = options.pageRows ?? EXPORT_PAGE_ROWS;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/v1/devices/:device/export',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Stream every reading of one device in [from, to) as CSV or NDJSON (no row cap)',
        security: BEARER_SECURITY,
        params: Type.Object({ device: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }) }),
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            format: Type.Optional(stringEnum(['csv', 'ndjson'] as const, { description: 'default csv' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'CSV (device,seq,ts,received_at,source,data) or one JSON reading per line',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          '4xx': ErrorRef,
          '5xx': ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const format = (request.query.format ?? 'csv') as 'csv' | 'ndjson';
      const { fromMs, toMs } = parseRange(request.query, now(), 3_600_000);
      // One page buffered ahead at most: a slow client holds the database reads back, not the hub's memory.
      const stream = Readable.from(
        exportLines(store, { device: request.params.device, fromMs, toMs }, format, pageRows),
        { highWaterMark: 1 },
      );
      const name = `${request.params.device}-${fromMs}-${toMs}.${format === 'csv' ? 'csv' : 'ndjson'}`;
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
        .send(stream);
    },
  );
}
