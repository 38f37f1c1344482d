/**
 * Samples what the hub's PostgreSQL sessions are doing (pg_stat_activity, filtered by the
 * application_name the bench gives the hub process) every `intervalMs`, and tallies
 * state / wait event / statement kind. It tells "PostgreSQL is busy" apart from "PostgreSQL is waiting
 * on a lock, on WAL flush, or on the hub". Also the WAL the whole server wrote and the checkpoints it
 * ran meanwhile: after each checkpoint the first change to every page logs the whole page, so frequent
 * (WAL-triggered) checkpoints multiply WAL volume and PostgreSQL's CPU per reading.
 */
import pg from 'pg';
import { processCpuSeconds } from './hub-process.js';

export interface ActivityTally {
  readonly samples: number;
  /** "state | wait | statement" -> share of session samples, largest first (top 8). */
  readonly top: ReadonlyArray<{ readonly what: string; readonly share: number }>;
  /** CPU seconds used by the hub's own backends while sampled (from /proc; backends already there at the
   * first sample count from then, later ones from their start). */
  readonly backendCpuSeconds: number;
  readonly backends: number;
  /** WAL bytes the server wrote while sampled (every session, not only the hub's). */
  readonly walBytes: number;
  /** Checkpoints the server started while sampled, timed and requested (WAL-triggered). */
  readonly checkpoints: { readonly timed: number; readonly requested: number };
}

interface WalMark {
  readonly lsn: string;
  readonly timed: number;
  readonly requested: number;
}

async function walMark(client: pg.Client): Promise<WalMark> {
  const result = await client.query<{ lsn: string; timed: string; requested: string }>(
    `SELECT pg_current_wal_lsn()::text AS lsn, checkpoints_timed::text AS timed, checkpoints_req::text AS requested
     FROM pg_stat_bgwriter`,
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error('pg_stat_bgwriter returned no row');
  return { lsn: row.lsn, timed: Number(row.timed), requested: Number(row.requested) };
}

export interface ActivitySampler {
  stop(): Promise<ActivityTally>;
}

export async function sampleActivity(url: string, applicationName: string, intervalMs = 100): Promise<ActivitySampler> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const startMark = await walMark(client);
  const counts = new Map<string, number>();
  let sessionSamples = 0;
  let rounds = 0;
  let stopped = false;
  // pid -> [cpu at first sight (0 for backends born after the first round), latest cpu]
  const backendCpu = new Map<number, [number, number]>();
  const loop = (async () => {
    while (!stopped) {
      const result = await client.query<{
        pid: number;
        state: string | null;
        wait: string | null;
        query: string | null;
      }>(
        `SELECT pid, state, wait_event_type || ':' || wait_event AS wait, query FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [applicationName],
      );
      for (const row of result.rows) {
        const cpu = processCpuSeconds(row.pid);
        if (cpu === null) continue;
        const known = backendCpu.get(row.pid);
        if (known === undefined) backendCpu.set(row.pid, [rounds === 0 ? cpu : 0, cpu]);
        else known[1] = cpu;
      }
      rounds += 1;
      for (const row of result.rows) {
        const what = `${row.state ?? '?'} | ${row.wait ?? 'cpu'} | ${statementKind(row.query ?? '')}`;
        counts.set(what, (counts.get(what) ?? 0) + 1);
        sessionSamples += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => undefined);
      const endMark = await walMark(client);
      const walDiff = await client.query<{ bytes: string }>(
        'SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text AS bytes',
        [endMark.lsn, startMark.lsn],
      );
      await client.end().catch(() => undefined);
      const top = [...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([what, n]) => ({ what, share: Math.round((n / Math.max(1, sessionSamples)) * 1000) / 1000 }));
      let backendCpuSeconds = 0;
      for (const [pid, entry] of backendCpu) {
        entry[1] = processCpuSeconds(pid) ?? entry[1];
        backendCpuSeconds += entry[1] - entry[0];
      }
      return {
        samples: rounds,
        top,
        backendCpuSeconds: Math.round(backendCpuSeconds * 100) / 100,
        backends: backendCpu.size,
        walBytes: Number(walDiff.rows[0]?.bytes ?? 0),
        checkpoints: { timed: endMark.timed - startMark.timed, requested: endMark.requested - startMark.requested },
      };
    },
  };
}

/** First words of a statement, enough to tell the commit's statements apart. */
function statementKind(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim();
  const insertInto = /INSERT INTO (\w+)/i.exec(text);
  if (insertInto !== null) return `insert ${insertInto[1]}`;
  return text.split(' ').slice(0, 3).join(' ').slice(0, 40);
}
