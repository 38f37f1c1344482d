/**
 * The physical reference: raw PostgreSQL COPY (text format, pg-copy-streams) of rows shaped like the
 * hub's readings (device, seq, ts, received_at, source, jsonb data, the same primary key) into a plain,
 * unpartitioned table in a throwaway schema. Rows are rendered before the clock starts, so this is the
 * server's ingest rate, not the bench's string building. Measured with one stream and with two
 * parallel streams (one per core).
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';

export interface CopyMeasurement {
  readonly streams: number;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
}

const ROWS_PER_CHUNK = 5000;

export async function measureCopy(url: string, rows: number, streams: number): Promise<CopyMeasurement> {
  const schema = `bench_copy_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const workers: pg.Client[] = [];
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.readings_copy (
      device_id text NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
      source text NOT NULL, data jsonb NOT NULL, PRIMARY KEY (device_id, ts, seq))`);
    const perStream = Math.ceil(rows / streams);
    const chunks = Array.from({ length: streams }, (_, s) => renderRows(`copy${s}-`, perStream, ROWS_PER_CHUNK));
    for (let s = 0; s < streams; s += 1) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      workers.push(client);
    }
    const startedAt = process.hrtime.bigint();
    await Promise.all(
      workers.map((client, s) =>
        pipeline(
          Readable.from(chunks[s] ?? []),
          client.query(
            copyStreams.from(`COPY ${schema}.readings_copy (device_id, seq, ts, received_at, source, data) FROM STDIN`),
          ),
        ),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const counted = await admin.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${schema}.readings_copy`);
    const copied = Number(counted.rows[0]?.n ?? 0);
    return { streams, rows: copied, seconds, rowsPerSec: copied / seconds };
  } finally {
    for (const client of workers) await client.end().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

/** COPY text rows in chunks; 100 devices, like the native scenarios, with the simulator's JSON body. */
function renderRows(prefix: string, rows: number, rowsPerChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  const base = Date.now();
  let lines: string[] = [];
  for (let i = 0; i < rows; i += 1) {
    const device = `${prefix}${i % 100}`;
    const seq = base + Math.floor(i / 100);
    const ts = new Date(base + Math.floor(i / 100)).toISOString();
    const data = `{"temperature":${20 + (i % 100) / 10},"humidity":${40 + (i % 37)},"voltage":3.3}`;
    lines.push(`${device}\t${seq}\t${ts}\t${ts}\tnative\t${data}\n`);
    if (lines.length === rowsPerChunk) {
      chunks.push(Buffer.from(lines.join('')));
      lines = [];
    }
  }
  if (lines.length > 0) chunks.push(Buffer.from(lines.join('')));
  return chunks;
}

/**
 * A second reference, closer to what an idempotent hub must do: per batch of `batchRows`, one
 * transaction that COPYs into a temp staging table and moves the rows into a daily-partitioned table
 * with `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (no RETURNING, no rollups). `sessions` run in
 * parallel. The gap between this and plain COPY is the price of idempotency in PostgreSQL itself.
 */
export async function measureStagedInsert(
  url: string,
  rows: number,
  sessions: number,
  batchRows: number,
): Promise<CopyMeasurement> {
  const schema = `bench_stage_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const workers: pg.Client[] = [];
  try {
    const day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    const from = day.toISOString();
    const to = new Date(day.getTime() + 2 * 86_400_000).toISOString();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.readings (
      device_id text NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
      source text NOT NULL, data jsonb NOT NULL, PRIMARY KEY (device_id, ts, seq)) PARTITION BY RANGE (ts)`);
    await admin.query(
      `CREATE TABLE ${schema}.readings_p PARTITION OF ${schema}.readings FOR VALUES FROM ('${from}') TO ('${to}')`,
    );
    const perSession = Math.ceil(rows / sessions);
    const batches = Array.from({ length: sessions }, (_, s) => renderRows(`stage${s}-`, perSession, batchRows));
    for (let s = 0; s < sessions; s += 1) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE TEMP TABLE stage (device_id text, seq bigint, ts timestamptz, received_at timestamptz,
        source text, data jsonb) ON COMMIT DELETE ROWS`);
      workers.push(client);
    }
    const startedAt = process.hrtime.bigint();
    await Promise.all(
      workers.map(async (client, s) => {
        for (const batch of batches[s] ?? []) {
          await client.query('BEGIN');
          await pipeline(
            Readable.from([batch]),
            client.query(copyStreams.from('COPY stage (device_id, seq, ts, received_at, source, data) FROM STDIN')),
          );
          await client.query(`INSERT INTO ${schema}.readings SELECT * FROM stage ON CONFLICT DO NOTHING`);
          await client.query('COMMIT');
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const counted = await admin.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${schema}.readings`);
    const stored = Number(counted.rows[0]?.n ?? 0);
    return { streams: sessions, rows: stored, seconds, rowsPerSec: stored / seconds };
  } finally {
    for (const client of workers) await client.end().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}
