/**
 * The XRayIOT signal summaries (table xray_signals, migration 5): written in multi-row batches by the
 * AMQP consumer and the signed HTTP route after their readings committed, listed by the REST API newest
 * first. A resent signal (same device, time and payload) is stored once.
 */
import type { SqlExecutor } from './sql-executor.js';
import { bytesToHex, msOf, toNullableText, toNumber, toText } from './sql-values.js';

export interface SignalSummaryRow {
  readonly deviceId: string;
  readonly time: number;
  readonly capturedAt: number;
  readonly receivedAt: number;
  readonly dataLength: number;
  readonly dataVolume: number;
  readonly format: string;
  readonly source: string;
  readonly correlationId: string | null;
  readonly payloadSha256: Uint8Array;
}

export interface StoredSignalSummary extends Omit<SignalSummaryRow, 'payloadSha256'> {
  readonly id: number;
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

  /** One statement for the whole batch; rows already stored are skipped. */
  async insertSignalSummaries(rows: readonly SignalSummaryRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.executor.write(
      `INSERT INTO xray_signals (device_id, signal_time, payload_sha256, captured_at, received_at,
         data_length, data_volume, format, source, correlation_id)
       SELECT d, to_timestamp(t / 1000.0), decode(h, 'hex'), to_timestamp(c / 1000.0), to_timestamp(r / 1000.0),
         l, v, f, s, k
       FROM unnest($1::text[], $2::float8[], $3::text[], $4::float8[], $5::float8[], $6::int[], $7::int[],
         $8::text[], $9::text[], $10::text[]) AS u(d, t, h, c, r, l, v, f, s, k)
       ON CONFLICT (device_id, signal_time, payload_sha256) DO NOTHING`,
      [
        rows.map((row) => row.deviceId),
        rows.map((row) => row.time),
        rows.map((row) => bytesToHex(row.payloadSha256)),
        rows.map((row) => row.capturedAt),
        rows.map((row) => row.receivedAt),
        rows.map((row) => row.dataLength),
        rows.map((row) => row.dataVolume),
        rows.map((row) => row.format),
        rows.map((row) => row.source),
        rows.map((row) => row.correlationId),
      ],
    );
  }

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
