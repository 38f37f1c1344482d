/**
 * Streaming export of devices' readings over a time range as CSV or NDJSON. Rows are read in keyset
 * pages and written as the client consumes them (a pull-based stream: the next page is fetched only when
 * the socket drained the previous one), so memory stays flat and there is no row cap. `sendExport` is
 * the one implementation: the bearer route here and the download-ticket route (export-ticket-routes.ts)
 * both answer through it.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, onRequestAsyncHookHandler } from 'fastify';
import type { StoredReading } from '../pipeline/ports.js';
import type { QueryStore, ReadingCursor } from './api-ports.js';
import { BEARER_SECURITY, ErrorRef, stringEnum } from './api-schemas.js';
import { parseRange, TimeParam } from './query-params.js';

export const EXPORT_PAGE_ROWS = 5000;
export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What one export streams: the devices in the order given, each over [fromMs, toMs). */
export interface ExportSpec {
  readonly devices: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly format: ExportFormat;
}
const CSV_HEADER = 'device,seq,ts,received_at,source,data\n';
export const DeviceId = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' });

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

async function* exportLines(store: QueryStore, spec: ExportSpec, pageRows: number): AsyncGenerator<string> {
  const { format, fromMs, toMs } = spec;
  if (format === 'csv') yield CSV_HEADER;
  for (const device of spec.devices) {
    let after: ReadingCursor | null = null;
    do {
      const page = await store.readingPage({ device, fromMs, toMs, limit: pageRows, after });
      // One chunk per page keeps syscalls few while memory stays bounded by the page size.
      yield page.items
        .map((reading) => (format === 'csv' ? csvLine(reading) : `${JSON.stringify(reading)}\n`))
        .join('');
      after = page.next;
    } while (after !== null);
  }
}

/** The download's file name: the device (or how many), the range, the format; safe in a header. */
export function exportFileName(spec: ExportSpec): string {
  const who = spec.devices.length === 1 ? (spec.devices[0] ?? 'export') : `${spec.devices.length}-devices`;
  return `${who}-${spec.fromMs}-${spec.toMs}.${spec.format}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Streams `spec` as the answer, as an attachment. */
export function sendExport(
  reply: FastifyReply,
  store: QueryStore,
  spec: ExportSpec,
  pageRows: number = EXPORT_PAGE_ROWS,
): FastifyReply {
  // One page buffered ahead at most: a slow client holds the database reads back, not the hub's memory.
  const stream = Readable.from(exportLines(store, spec, pageRows), { highWaterMark: 1 });
  return reply
    .type(spec.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
    .header('content-disposition', `attachment; filename="${exportFileName(spec)}"`)
    .send(stream);
}

/** The OpenAPI description of an export answer, shared by both export routes. */
export const EXPORT_RESPONSES = {
  200: {
    description: 'CSV (device,seq,ts,received_at,source,data) or one JSON reading per line',
    content: {
      'text/csv': { schema: { type: 'string' } },
      'application/x-ndjson': { schema: { type: 'string' } },
    },
  },
  '4xx': ErrorRef,
  '5xx': ErrorRef,
};

export function registerExportRoutes(
  app: FastifyInstance,
  store: QueryStore,
  authorize: onRequestAsyncHookHandler,
  options: { now?: () => number; pageRows?: number } = {},
): void {
  const now = options.now ?? Date.now;
  const pageRows = options.pageRows ?? EXPORT_PAGE_ROWS;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/devices/:device/export',
    {
      onRequest: authorize,
      schema: {
        tags: ['query'],
        summary: 'Stream every reading of one device in [from, to) as CSV or NDJSON (no row cap)',
        security: BEARER_SECURITY,
        params: Type.Object({ device: DeviceId }),
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            format: Type.Optional(stringEnum(EXPORT_FORMATS, { description: 'default csv' })),
          },
          { additionalProperties: false },
        ),
        response: EXPORT_RESPONSES,
      },
    },
    async (request, reply) => {
      const format = (request.query.format ?? 'csv') as ExportFormat;
      const { fromMs, toMs } = parseRange(request.query, now(), 3_600_000);
      return sendExport(reply, store, { devices: [request.params.device], fromMs, toMs, format }, pageRows);
    },
  );
}
