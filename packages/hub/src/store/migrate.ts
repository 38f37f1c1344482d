/**
 * Applies pending migrations in one transaction, idempotently. A transaction-scoped advisory lock keyed
 * by the current schema makes concurrent migrators (several hub processes starting together) take
 * turns; the later one finds everything applied. On PGlite the lock is trivially uncontended.
 */
import { MIGRATIONS, MIGRATIONS_TABLE_DDL, type Migration } from './migrations.js';
import type { SqlExecutor } from './sql-executor.js';
import { toNumber } from './sql-values.js';

/** Advisory lock class for migrations; partitions.ts uses its neighbour. */
export const MIGRATION_LOCK_CLASS = 0x5ea1;

export async function runMigrations(
  executor: SqlExecutor,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<void> {
  await executor.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}, hashtext(coalesce(current_schema(), '')))`);
    await tx.query(MIGRATIONS_TABLE_DDL);
    const rows = await tx.query('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => toNumber(row['version'], 'version')));
    const newest = Math.max(0, ...migrations.map((m) => m.version));
    const unknown = [...applied].filter((version) => version > newest);
    if (unknown.length > 0) {
      throw new Error(`store schema has version ${Math.max(...unknown)}, newer than this hub knows (${newest})`);
    }
    const pending = migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
    for (const migration of pending) {
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
  });
}
