/**
 * The statements of one commit: readings arrive by COPY into a staging table and move with one
 * INSERT ... SELECT; the rollups and dead letters are single multi-row statements fed by parallel
 * arrays through unnest() — never one statement per row. Times cross the wire as float8 ms and become timestamptz
 * with to_timestamp(ms / 1000.0), which keeps millisecond (indeed microsecond) precision.
 */
import type { DeadLetter, VerifiedReading } from '../pipeline/ports.js';
import type { BucketDelta, MetricDelta } from './minute-aggregates.js';
import { bytesToHex, storableText } from './sql-values.js';

export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/**
 * Small batches (the low-latency case: an idle hub commits every frame at once) skip the staging
 * table: the batch travels as one JSON document expanded by json_to_recordset, in ONE round trip
 * instead of three. Large batches go through COPY, whose per-row cost is lower.
 */
export const SMALL_BATCH_ROWS = 1000;

/** Inserts a small batch and returns the 1-based positions (`ord`) of the rows that were new. */
export function insertReadingsInline(readings: readonly VerifiedReading[]): Statement {
  const rows = new Array<{ d: string; s: number; t: number; r: number; o: string; j: unknown }>(readings.length);
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i] as VerifiedReading;
    rows[i] = { d: r.device, s: r.seq, t: r.ts, r: r.receivedAt, o: r.source, j: r.data };
  }
  return {
    text: `WITH input AS (
        SELECT * FROM ROWS FROM (
          json_to_recordset($1::json) AS (d text, s bigint, t float8, r float8, o text, j jsonb)
        ) WITH ORDINALITY AS u(device_id, seq, ts_ms, received_ms, source, data, ord)
      ), inserted AS (
        INSERT INTO readings (device_id, seq, ts, received_at, source, data)
        SELECT device_id, seq, to_timestamp(ts_ms / 1000.0), to_timestamp(received_ms / 1000.0), source, data
        FROM input
        ON CONFLICT DO NOTHING
        RETURNING device_id, seq, ts
      )
      SELECT input.ord FROM input
      JOIN inserted ON inserted.device_id = input.device_id AND inserted.seq = input.seq
        AND inserted.ts = to_timestamp(input.ts_ms / 1000.0)`,
    params: [JSON.stringify(rows)],
  };
}

/** Per-transaction staging table for a batch of readings; emptied at commit, so it never outlives one. */
export const READING_STAGE_TABLE = 'reading_stage';
export const READING_STAGE_COLUMNS = ['ord', 'device_id', 'seq', 'ts_ms', 'received_ms', 'source', 'data'] as const;

export const CREATE_READING_STAGE = `CREATE TEMP TABLE IF NOT EXISTS ${READING_STAGE_TABLE} (
    ord integer NOT NULL,
    device_id text NOT NULL,
    seq bigint NOT NULL,
    ts_ms float8 NOT NULL,
    received_ms float8 NOT NULL,
    source text NOT NULL,
    data jsonb NOT NULL
  ) ON COMMIT DELETE ROWS`;

/**
 * The batch in COPY text format, one line per reading, `ord` = 1-based position. Device ids and sources
 * are restricted to characters that need no escaping; the data JSON has no raw tabs or newlines
 * (JSON.stringify escapes control characters), so only its backslashes need doubling.
 */
export function readingStageText(readings: readonly VerifiedReading[]): string {
  const lines = new Array<string>(readings.length);
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i] as VerifiedReading;
    let data = JSON.stringify(r.data);
    if (data.includes('\\')) data = data.replaceAll('\\', '\\\\');
    lines[i] = `${i + 1}\t${r.device}\t${r.seq}\t${r.ts}\t${r.receivedAt}\t${r.source}\t${data}`;
  }
  return lines.join('\n') + '\n';
}

/**
 * Moves the staged batch into readings, skipping existing (device, ts, seq), and returns the `ord` of
 * the rows that were new. Joining RETURNING back to the stage by key gives exact positions. The stage
 * must hold no key twice (the caller dedupes).
 */
export const INSERT_STAGED_READINGS = `WITH inserted AS (
    INSERT INTO readings (device_id, seq, ts, received_at, source, data)
    SELECT device_id, seq, to_timestamp(ts_ms / 1000.0), to_timestamp(received_ms / 1000.0), source, data
    FROM ${READING_STAGE_TABLE}
    ON CONFLICT DO NOTHING
    RETURNING device_id, seq, ts
  )
  SELECT s.ord FROM ${READING_STAGE_TABLE} s
  JOIN inserted i ON i.device_id = s.device_id AND i.seq = s.seq AND i.ts = to_timestamp(s.ts_ms / 1000.0)`;

export function upsertBuckets(buckets: readonly BucketDelta[]): Statement {
  return {
    text: `INSERT INTO minute_buckets (device_id, minute, valid, invalid)
      SELECT device_id, to_timestamp(minute_ms / 1000.0), valid, invalid
      FROM unnest($1::text[], $2::float8[], $3::bigint[], $4::bigint[]) AS u(device_id, minute_ms, valid, invalid)
      ON CONFLICT (device_id, minute) DO UPDATE SET
        valid = minute_buckets.valid + EXCLUDED.valid,
        invalid = minute_buckets.invalid + EXCLUDED.invalid`,
    params: [
      buckets.map((b) => b.device),
      buckets.map((b) => b.minuteMs),
      buckets.map((b) => b.valid),
      buckets.map((b) => b.invalid),
    ],
  };
}

export function upsertMetrics(metrics: readonly MetricDelta[]): Statement {
  return {
    text: `INSERT INTO minute_metrics (device_id, minute, metric, min, max, sum, count)
      SELECT device_id, to_timestamp(minute_ms / 1000.0), metric, min, max, sum, count
      FROM unnest($1::text[], $2::float8[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::bigint[])
        AS u(device_id, minute_ms, metric, min, max, sum, count)
      ON CONFLICT (device_id, minute, metric) DO UPDATE SET
        min = least(minute_metrics.min, EXCLUDED.min),
        max = greatest(minute_metrics.max, EXCLUDED.max),
        sum = minute_metrics.sum + EXCLUDED.sum,
        count = minute_metrics.count + EXCLUDED.count`,
    params: [
      metrics.map((m) => m.device),
      metrics.map((m) => m.minuteMs),
      metrics.map((m) => m.metric),
      metrics.map((m) => m.min),
      metrics.map((m) => m.max),
      metrics.map((m) => m.sum),
      metrics.map((m) => m.count),
    ],
  };
}

/** Raw bytes travel as hex text and are decoded in SQL, which both drivers pass through identically. */
export function insertDeadLetters(deadLetters: readonly DeadLetter[]): Statement {
  return {
    text: `INSERT INTO dead_letters (received_at, reason, source, peer, device_id, detail, raw, truncated)
      SELECT to_timestamp(received_ms / 1000.0), reason, source, peer, device_id, detail, decode(raw_hex, 'hex'), truncated
      FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[])
        AS u(received_ms, reason, source, peer, device_id, detail, raw_hex, truncated)`,
    params: [
      deadLetters.map((d) => d.receivedAt),
      deadLetters.map((d) => d.reason),
      deadLetters.map((d) => d.source),
      deadLetters.map((d) => storableText(d.peer)),
      deadLetters.map((d) => (d.device === null ? null : storableText(d.device))),
      deadLetters.map((d) => storableText(d.detail)),
      deadLetters.map((d) => bytesToHex(d.raw)),
      deadLetters.map((d) => d.truncated),
    ],
  };
}
