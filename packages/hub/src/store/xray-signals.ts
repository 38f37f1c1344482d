/**
 * The XRayIOT signal summaries (table xray_signals, migration 5), listed by the REST API newest first.
 * They are written with their signal's readings, in the same commit (commit-statements.ts
 * insertSignalSummaries); a resent signal (same device, time and payload) is stored once.
 */
import type { SignalSummaryRow } from '../pipeline/ports.js';
import type { SqlExecutor } from './sql-executor.js';
import { msOf, toNullableText, toNumber, toText } from './sql-values.js';

export type { SignalSummaryRow };

export interface StoredSignalSummary extends Omit<SignalSummaryRow, 'payloadSha256' | 'source'> {
  readonly id: number;
  readonly source: string;
  readonly payloadSha256: string;
}

export interface SignalSummaryQuery {
  readonly device: string | null;
  readonly fromMs: number | null;
  readonly toMs: number | null;
  readonly limit: number;
  /** Rows with a smaller id only (the page cursor). */
  readonly beforeId: number | null;
}

export class SqlSignalStore {
  constructor(private readonly executor: SqlExecutor) {}

  async signalSummaries(query: SignalSummaryQuery): Promise<StoredSignalSummary[]> {
    const rows = await this.executor.query(
      `SELECT id, device_id, ${msOf('signal_time')} AS time, ${msOf('captured_at')} AS captured_at,
         ${msOf('received_at')} AS received_at, data_length, data_volume, format, source, correlation_id,
         encode(payload_sha256, 'hex') AS payload_sha256
       FROM xray_signals
       WHERE ($1::text IS NULL OR device_id = $1)
         AND ($2::float8 IS NULL OR signal_time >= to_timestamp($2 / 1000.0))
         AND ($3::float8 IS NULL OR signal_time < to_timestamp($3 / 1000.0))
         AND ($4::bigint IS NULL OR id < $4)
       ORDER BY id DESC
       LIMIT $5`,
      [query.device, query.fromMs, query.toMs, query.beforeId, query.limit],
    );
    return rows.map((row) => ({
      id: toNumber(row['id'], 'id'),
      deviceId: toText(row['device_id'], 'device_id'),
      time: toNumber(row['time'], 'time'),
      capturedAt: toNumber(row['captured_at'], 'captured_at'),
      receivedAt: toNumber(row['received_at'], 'received_at'),
      dataLength: toNumber(row['data_length'], 'data_length'),
      dataVolume: toNumber(row['data_volume'], 'data_volume'),
      format: toText(row['format'], 'format'),
      source: toText(row['source'], 'source'),
      correlationId: toNullableText(row['correlation_id'], 'correlation_id'),
      payloadSha256: toText(row['payload_sha256'], 'payload_sha256'),
    }));
  }
}
