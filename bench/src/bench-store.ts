/**
 * Where a scenario's hub keeps its data, and how the bench audits it afterwards: a temporary PGlite
 * folder (opened by the bench only after the hub has exited, since PGlite is single-writer) or a fresh
 * schema on the PostgreSQL server (dropped afterwards). The audit counts rows and distinct keys, which
 * is what `lost` and `duplicates` are computed from: (device, seq) for the loads that number their
 * readings, where one seq stored at two times is a duplicate; (device, ts, seq), the table's own key, for
 * XRayIOT signals, whose seq is derived from a 32-bit payload hash (two signals of a device may share it).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type StoreKind = 'pglite' | 'postgres';

export interface RowAudit {
  readonly rows: number;
  readonly distinctKeys: number;
}

export interface BenchStore {
  readonly kind: StoreKind;
  /** Hub CLI flags selecting this store. */
  readonly hubArgs: readonly string[];
  /**
   * Called before the hub starts: on the server, a CHECKPOINT, so a scenario does not pay for the dirty
   * pages and the WAL-triggered checkpoint the previous scenario left behind. Resolves to a note when it
   * could not (e.g. the role may not run CHECKPOINT), else null.
   */
  settle(): Promise<string | null>;
  /** Counts rows whose device id starts with `devicePrefix`. Call after the hub has exited for PGlite. */
  audit(devicePrefix: string, key?: AuditKey): Promise<RowAudit>;
  dispose(): Promise<void>;
}

export type AuditKey = 'device-seq' | 'device-ts-seq';

function auditSql(key: AuditKey): string {
  const columns = key === 'device-seq' ? 'device_id, seq' : 'device_id, ts, seq';
  return `SELECT count(*)::bigint AS rows, count(DISTINCT (${columns}))::bigint AS keys
  FROM readings WHERE device_id LIKE $1`;
}

export async function createPgliteStore(): Promise<BenchStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-bench-'));
  return {
    kind: 'pglite',
    hubArgs: ['--data-dir', dataDir],
    settle: () => Promise.resolve(null),
    async audit(devicePrefix, key = 'device-seq') {
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create(dataDir);
      try {
        const result = await db.query<{ rows: string | number; keys: string | number }>(auditSql(key), [
          `${devicePrefix}%`,
        ]);
        const row = result.rows[0];
        return { rows: Number(row?.rows ?? 0), distinctKeys: Number(row?.keys ?? 0) };
      } finally {
        await db.close();
      }
    },
    dispose: () => rm(dataDir, { recursive: true, force: true }),
  };
}

export async function createPostgresStore(url: string, label: string): Promise<BenchStore> {
  const schema = `bench_${label.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  return {
    kind: 'postgres',
    hubArgs: ['--database-url', url, '--database-schema', schema],
    async settle() {
      try {
        await client.query('CHECKPOINT');
        return null;
      } catch (error) {
        return `no CHECKPOINT before the run (${(error as Error).message})`;
      }
    },
    async audit(devicePrefix, key = 'device-seq') {
      await client.query(`SET search_path = ${schema}`);
      const result = await client.query<{ rows: string; keys: string }>(auditSql(key), [`${devicePrefix}%`]);
      const row = result.rows[0];
      return { rows: Number(row?.rows ?? 0), distinctKeys: Number(row?.keys ?? 0) };
    },
    async dispose() {
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** True when a PostgreSQL server answers at `url`. */
export async function postgresAvailable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function postgresVersion(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** CPU seconds used so far by every PostgreSQL server process on this machine (read from /proc). */
export async function postgresCpuSeconds(): Promise<number | null> {
  try {
    let total = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    }
    return total;
  } catch {
    return null;
  }
}
