/**
 * The statements of one commit, each a single multi-row statement fed by parallel arrays through
 * unnest() — never one statement per row. Times cross the wire as float8 ms and become timestamptz
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
 * Inserts readings, skipping existing (device, seq, ts), and returns the 1-based positions (`ord`) of
 * the rows that were new. Joining RETURNING back to the input by key gives exact positions without
 * reconstructing timestamps in JS. The input must hold no key twice (the caller dedupes).
 */
export function insertReadings(readings: readonly VerifiedReading[]): Statement {
  return {
    text: `WITH input AS (
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::text[], $6::text[])
          WITH ORDINALITY AS u(device_id, seq, ts_ms, received_ms, source, data_json, ord)
      ), inserted AS (
        INSERT INTO readings (device_id, seq, ts, received_at, source, data)
        SELECT device_id, seq, to_timestamp(ts_ms / 1000.0), to_timestamp(received_ms / 1000.0), source, data_json::jsonb
        FROM input
        ON CONFLICT DO NOTHING
        RETURNING device_id, seq, ts
      )
      SELECT input.ord FROM input
      JOIN inserted ON inserted.device_id = input.device_id AND inserted.seq = input.seq
        AND inserted.ts = to_timestamp(input.ts_ms / 1000.0)`,
    params: [
      readings.map((r) => r.device),
      readings.map((r) => r.seq),
      readings.map((r) => r.ts),
      readings.map((r) => r.receivedAt),
      readings.map((r) => r.source),
      readings.map((r) => JSON.stringify(r.data)),
    ],
  };
}

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
