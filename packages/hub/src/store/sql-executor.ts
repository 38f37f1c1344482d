/**
 * The one seam between the store's SQL and a database driver. The SQL is written once against this
 * interface; PGlite and the PostgreSQL server each provide a small adapter.
 */

/** A row as a driver returns it; callers convert columns with the helpers in sql-values.ts. */
export type SqlRow = Record<string, unknown>;

/** Something that runs one statement (a connection, or a transaction on one). */
export interface SqlQueryable {
  /** Runs exactly one statement with positional parameters ($1, $2, ...) and returns its rows. */
  query(text: string, params?: readonly unknown[]): Promise<SqlRow[]>;
}

/** A statement runner inside a transaction: writes, including bulk loads, happen only here. */
export interface SqlTransaction extends SqlQueryable {
  /**
   * Bulk-loads rows given in COPY text format (tab-separated fields, one row per line, already escaped)
   * into `table (columns)`: as a string, or as its UTF-8 bytes in consecutive chunks (each ending at a
   * row's end). COPY is the cheapest way into PostgreSQL on both drivers.
   */
  copyText(table: string, columns: readonly string[], text: string | readonly Uint8Array[]): Promise<void>;
}

/** How a statement may be run. */
export interface WriteOptions {
  /**
   * The text is one of a small, fixed set that the store runs over and over (the small-commit
   * statement): the driver may keep it prepared on each connection, so the server parses and plans
   * it once per connection instead of on every commit.
   */
  readonly reuse?: boolean;
}

export interface SqlExecutor extends SqlQueryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs one read-only statement for the API, on the read side of the budget: on a PostgreSQL server the
   * read pool (its own connections and statement_timeout), on PGlite behind every waiting write. `query`
   * stays for the store's own statements (commits' helpers, folds, migrations).
   */
  read(text: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /**
   * Runs one writing statement as its own (implicit) transaction: atomic and durable like a
   * BEGIN/COMMIT pair, in one round trip instead of three. For commits that fit one statement.
   */
  write(text: string, params?: readonly unknown[], options?: WriteOptions): Promise<SqlRow[]>;
  /** Runs `work` inside BEGIN/COMMIT on one connection; rolls back and rethrows when it throws. */
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
