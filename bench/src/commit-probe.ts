/**
 * The store's own durable-commit time, measured beside a scenario: one connection of its own commits a
 * one-row INSERT at a fixed rate into a throwaway table of the same PostgreSQL (autocommit, so each is a
 * WAL flush like the hub's commits). Its p99 is the floor the hub's p99 is judged against: on a slow
 * phase of the machine a commit itself can take tens of milliseconds, and no hub can answer before that.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LatencySamples } from './percentiles.js';

export interface CommitProbeResult {
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface CommitProbe {
  finish(): Promise<CommitProbeResult>;
}

/** `ratePerSec` commits a second at most; a commit slower than the period delays the next, never overlaps. */
export async function startCommitProbe(databaseUrl: string, ratePerSec = 50): Promise<CommitProbe> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'sealstream-bench-commit-probe' });
  await client.connect();
  const table = `bench_commit_probe_${process.pid}_${randomBytes(3).toString('hex')}`;
  // An ordinary (logged) table: a temporary one writes no WAL, so its commits would not wait for a flush.
  await client.query(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  const samples = new LatencySamples();
  const periodMs = 1000 / ratePerSec;
  let running = true;
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      const started = performance.now();
      await client.query(`INSERT INTO ${table} DEFAULT VALUES`);
      samples.add(performance.now() - started);
      next = Math.max(next + periodMs, performance.now());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  })();
  return {
    async finish() {
      running = false;
      await loop.catch(() => undefined);
      await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await client.end().catch(() => undefined);
      const round = (value: number | null): number | null => (value === null ? null : Math.round(value * 100) / 100);
      return {
        samples: samples.count,
        p50Ms: round(samples.percentile(50)),
        p99Ms: round(samples.percentile(99)),
        maxMs: round(samples.percentile(100)),
      };
    },
  };
}
