/**
 * The statements of one commit. Two ways in for readings:
 * - strict (the usual case): rows go straight into `readings` — COPY for large batches, one
 *   json_to_recordset INSERT for small ones — with no ON CONFLICT, so PostgreSQL does the least work
 *   per row; a key that already exists fails the statement with unique_violation and the store
 *   retries the batch the lenient way. When the strict write succeeds, every row was new.
 * - lenient (after a conflict): COPY into a staging table (or the inline JSON for small batches), then
 *   INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING, joined back to find which rows were new.
 * The commit's rollup-journal row (rollup-statements.ts), its dead letters and its XRayIOT signal
 * summaries are ONE statement of data-modifying CTEs — dead letters fed by parallel arrays through
 * unnest(), summaries by one JSON document, never one statement per row — so one round trip for all
 * of them, in the readings' transaction. Times cross the wire as
 * float8 ms and become timestamptz with to_timestamp(ms / 1000.0), which keeps millisecond (indeed
 * microsecond) precision; the strict COPY writes the same instants as ISO text (see isoMillis).
 */
import type { DeadLetter, SignalSummaryRow, VerifiedReading } from '../pipeline/ports.js';
import { insertJournalRows } from './rollup-statements.js';
import { placeholders, type Statement } from './statement.js';
import { bytesToHex, storableText } from './sql-values.js';
import { copyJson, IsoMillis, isExactMs, readingCopyRow } from '../pipeline/copy-rows.js';

export { MAX_EXACT_MS, READING_COLUMNS } from '../pipeline/copy-rows.js';

/**
 * Small batches (the low-latency case: an idle hub commits every frame at once) skip COPY: the batch
 * travels as one JSON document expanded by json_to_recordset, in the same statement as the rollups.
 * Large batches go through COPY, whose per-row cost is lower.
 */
export const SMALL_BATCH_ROWS = 1000;

/** True when every reading's times can be written as ISO text without changing the stored instant. */
export function strictlyStorable(readings: readonly VerifiedReading[]): boolean {
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i] as VerifiedReading;
    if (!isExactMs(r.ts) || !isExactMs(r.receivedAt)) return false;
  }
  return true;
}

/**
 * The batch in COPY text format for `readings` itself (rows: copy-rows.ts). Call only when
 * strictlyStorable(readings).
 */
export function readingCopyText(readings: readonly VerifiedReading[]): string {
  const iso = new IsoMillis();
  let text = '';
  for (let i = 0; i < readings.length; i += 1) text += readingCopyRow(readings[i] as VerifiedReading, iso);
  return text;
}

function inlineRows(readings: readonly VerifiedReading[]): string {
  const rows = new Array<{ d: string; s: number; t: number; r: number; o: string; j: unknown }>(readings.length);
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i] as VerifiedReading;
    rows[i] = { d: r.device, s: r.seq, t: r.ts, r: r.receivedAt, o: r.source, j: r.data };
  }
  return JSON.stringify(rows);
}

const INLINE_INPUT = (param: string): string => `SELECT * FROM ROWS FROM (
          json_to_recordset(${param}::json) AS (d text, s bigint, t float8, r float8, o text, j jsonb)
        ) WITH ORDINALITY AS u(device_id, seq, ts_ms, received_ms, source, data, ord)`;

/**
 * Strict small-batch insert: no ON CONFLICT, so an existing key fails the statement (unique_violation).
 * Meant to be joined with the rollups into one statement (see combineWrites).
 */
export function insertReadingsStrict(readings: readonly VerifiedReading[], offset = 0): Statement {
  const [rows] = placeholders(offset, 1);
  return {
    text: `INSERT INTO readings (device_id, seq, ts, received_at, source, data)
      SELECT device_id, seq, to_timestamp(ts_ms / 1000.0), to_timestamp(received_ms / 1000.0), source, data
      FROM (${INLINE_INPUT(rows as string)}) AS input`,
    params: [inlineRows(readings)],
  };
}

/** Lenient small-batch insert: returns the 1-based positions (`ord`) of the rows that were new. */
export function insertReadingsInline(readings: readonly VerifiedReading[]): Statement {
  return {
    text: `WITH input AS (
        ${INLINE_INPUT('$1')}
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
    params: [inlineRows(readings)],
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
 * The batch in the staging table's COPY text format, one line per reading, `ord` = 1-based position.
 * Device ids and sources are restricted to characters that need no escaping.
 */
export function readingStageText(readings: readonly VerifiedReading[]): string {
  let text = '';
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i] as VerifiedReading;
    text += `${i + 1}\t${r.device}\t${r.seq}\t${r.ts}\t${r.receivedAt}\t${r.source}\t${copyJson(r.data)}\n`;
  }
  return text;
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

/** Raw bytes travel as hex text and are decoded in SQL, which both drivers pass through identically. */
export function insertDeadLetters(deadLetters: readonly DeadLetter[], offset = 0): Statement {
  const [at, reasons, sources, peers, devices, details, raws, truncated] = placeholders(offset, 8);
  return {
    text: `INSERT INTO dead_letters (received_at, reason, source, peer, device_id, detail, raw, truncated)
      SELECT to_timestamp(received_ms / 1000.0), reason, source, peer, device_id, detail, decode(raw_hex, 'hex'), truncated
      FROM unnest(${at}::float8[], ${reasons}::text[], ${sources}::text[], ${peers}::text[], ${devices}::text[],
        ${details}::text[], ${raws}::text[], ${truncated}::bool[])
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

/**
 * XRayIOT signal summaries (table xray_signals). Lenient: a signal already stored (same device, time
 * and payload: a resend) is skipped. Strict, like the strict readings: no ON CONFLICT, which costs
 * PostgreSQL about twice the plain insert per row (the speculative insertion and its confirmation); a
 * stored signal fails the statement with unique_violation and the store commits the batch again
 * leniently. The rows travel as one JSON document — JSON.stringify is far cheaper per row than the
 * driver's array literals — and the statement text is fixed, so it stays prepared.
 */
export function insertSignalSummaries(rows: readonly SignalSummaryRow[], offset = 0, strict = false): Statement {
  const [document] = placeholders(offset, 1);
  return {
    text: `INSERT INTO xray_signals (device_id, signal_time, payload_sha256, captured_at, received_at,
         data_length, data_volume, format, source, correlation_id)
       SELECT d, to_timestamp(t / 1000.0), decode(h, 'hex'), to_timestamp(c / 1000.0), to_timestamp(r / 1000.0),
         l, v, f, s, k
       FROM json_to_recordset(${document as string}::json)
         AS u(d text, t float8, h text, c float8, r float8, l int, v int, f text, s text, k text)${
           strict ? '' : '\n       ON CONFLICT (device_id, signal_time, payload_sha256) DO NOTHING'
         }`,
    params: [signalSummariesJson(rows)],
  };
}

function signalSummariesJson(rows: readonly SignalSummaryRow[]): string {
  const items = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i] as SignalSummaryRow;
    items[i] = {
      d: row.deviceId,
      t: row.time,
      h: bytesToHex(row.payloadSha256),
      c: row.capturedAt,
      r: row.receivedAt,
      l: row.dataLength,
      v: row.dataVolume,
      f: row.format,
      s: row.source,
      k: row.correlationId,
    };
  }
  return JSON.stringify(items);
}

/**
 * Summaries per commit from which the strict path COPYs them (and the readings) in a transaction
 * instead of the one-statement JSON: PostgreSQL parses COPY text for about half the CPU of
 * json_to_recordset per row (measured here on xray_signals rows: 7-11 µs against 14-15 µs), which
 * outweighs the transaction's few extra round trips for an AMQP delivery burst, not for one signal.
 */
export const SIGNAL_COPY_ROWS = 64;

/** Columns of the summaries' COPY, in the order of signalCopyText's fields. */
export const SIGNAL_COLUMNS = [
  'device_id',
  'signal_time',
  'payload_sha256',
  'captured_at',
  'received_at',
  'data_length',
  'data_volume',
  'format',
  'source',
  'correlation_id',
] as const;

/**
 * True when every summary's times can be written as ISO text without changing the stored instant:
 * signal_time is part of the summary's key, which must not depend on the path that wrote it.
 */
export function signalsCopyable(rows: readonly SignalSummaryRow[]): boolean {
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i] as SignalSummaryRow;
    if (!isExactMs(row.time) || !isExactMs(row.capturedAt) || !isExactMs(row.receivedAt)) return false;
  }
  return true;
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text field of COPY's text format (a NUL, which no text column holds, is refused by PostgreSQL). */
function copyTextField(text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c] ?? c) : text;
}

/** The summaries in COPY text format for xray_signals itself. Call only when signalsCopyable(rows). */
export function signalCopyText(rows: readonly SignalSummaryRow[]): string {
  // One cache per time column: each keeps hitting its own second.
  const times = new IsoMillis();
  const captured = new IsoMillis();
  const received = new IsoMillis();
  let text = '';
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i] as SignalSummaryRow;
    const correlation = row.correlationId === null ? '\\N' : copyTextField(row.correlationId);
    text += `${copyTextField(row.deviceId)}\t${times.format(row.time)}\t\\\\x${bytesToHex(row.payloadSha256)}\t${captured.format(row.capturedAt)}\t${received.format(row.receivedAt)}\t${row.dataLength}\t${row.dataVolume}\t${copyTextField(row.format)}\t${copyTextField(row.source)}\t${correlation}\n`;
  }
  return text;
}

/** What one commit writes besides the readings themselves. */
export interface SecondaryWrites {
  /** The commit's rollup-journal rows (journal-codec.ts; none when it has no deltas). */
  readonly journalRows: readonly string[];
  readonly deadLetters: readonly DeadLetter[];
  readonly signals?: readonly SignalSummaryRow[];
  /** The summaries are written strictly (the strict commit path: see insertSignalSummaries). */
  readonly strict?: boolean;
}

/** The parts of a commit's secondary writes: its rollup-journal row, its dead letters, its summaries. */
export function secondaryParts(writes: SecondaryWrites): Array<(offset: number) => Statement> {
  const parts: Array<(offset: number) => Statement> = [];
  const { journalRows, signals } = writes;
  if (journalRows.length > 0) parts.push((offset) => insertJournalRows(journalRows, offset));
  if (writes.deadLetters.length > 0) parts.push((offset) => insertDeadLetters(writes.deadLetters, offset));
  if (signals !== undefined && signals.length > 0) {
    parts.push((offset) => insertSignalSummaries(signals, offset, writes.strict === true));
  }
  return parts;
}
