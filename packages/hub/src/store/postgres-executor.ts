/**
 * SqlExecutor over a PostgreSQL server through two pg Pools: the write pool (`poolSize`) for commits,
 * folds, migrations and the registry, and the read pool (`readPoolSize`, its own `readTimeoutMs`
 * statement_timeout) for the API's reads. Heavy reads once took every connection commits needed and
 * held native ACKs for seconds; now they can only take the read pool's. With `schema`, the schema is created when
 * missing and every connection starts with search_path set to it, so the store's unqualified names land
 * there (tests and side-by-side deployments isolate themselves this way).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import pg from 'pg';
import type { SqlExecutor, SqlRow, SqlTransaction, WriteOptions } from './sql-executor.js';
import { ReadsBusyError } from './read-budget.js';
import { sqlStateOf } from './store-errors.js';

/** query_canceled: statement_timeout (or a cancel request) ended the statement. */
const QUERY_CANCELED = '57014';

export const DEFAULT_POOL_SIZE = 4;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** Connections for API reads, beside the write pool. */
export const DEFAULT_READ_POOL_SIZE = 2;
/** statement_timeout of the read pool: a read running longer is cancelled by the server. */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * Most statement texts kept prepared. Each connection holds one server-side prepared statement per
 * name it has run, so the set must stay small; texts beyond it run unnamed (parsed every time).
 */
export const MAX_PREPARED_TEXTS = 32;
/** Lower-case identifiers only, so the name needs no quoting anywhere (startup options included). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresExecutorOptions {
  readonly url: string;
  readonly schema?: string;
  readonly poolSize?: number;
  readonly statementTimeoutMs?: number;
  /** Connections of the read pool (API reads); default 2. */
  readonly readPoolSize?: number;
  /** Server-side statement_timeout of the read pool; default 10 s. */
  readonly readTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Told about errors on idle pooled connections (the pool discards such a connection itself). */
  readonly onBackgroundError?: (error: unknown) => void;
}

export class PostgresExecutor implements SqlExecutor {
  readonly kind = 'postgres' as const;
  private closed = false;
  /** Statement text → its prepared-statement name (a digest of the text, so one name never means two texts). */
  private readonly preparedNames = new Map<string, string>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly readPool: pg.Pool,
    private readonly readTimeoutMs: number,
  ) {}

  static async open(options: PostgresExecutorOptions): Promise<PostgresExecutor> {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error('store: schema must match [a-z_][a-z0-9_]* (at most 63 characters)');
    }
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isSafeInteger(poolSize) || poolSize < 1) throw new Error('store: poolSize must be a positive integer');
    const readPoolSize = options.readPoolSize ?? DEFAULT_READ_POOL_SIZE;
    if (!Number.isSafeInteger(readPoolSize) || readPoolSize < 1) {
      throw new Error('store: readPoolSize must be a positive integer');
    }
    const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    const rewritten = schema === undefined ? null : withSearchPath(options.url, schema);
    const poolOf = (max: number, statementTimeoutMs: number, idleTimeoutMillis?: number): pg.Pool =>
      new pg.Pool({
        connectionString: rewritten ?? options.url,
        max,
        ...(idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis }),
        statement_timeout: statementTimeoutMs,
        connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        ...(schema !== undefined && rewritten === null ? { options: `-c search_path=${schema}` } : {}),
      });
    // The write pool keeps its connections (idle timeout 0 = never closed for idleness): commits
    // arrive in bursts, and a connection closed after an idle spell costs the next burst's first
    // commits a connect, a backend start and fresh statement plans.
    const pool = poolOf(poolSize, options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS, 0);
    const readPool = poolOf(readPoolSize, readTimeoutMs);
    const onBackgroundError = options.onBackgroundError ?? (() => undefined);
    pool.on('error', (error) => onBackgroundError(error));
    readPool.on('error', (error) => onBackgroundError(error));
    const executor = new PostgresExecutor(pool, readPool, readTimeoutMs);
    if (schema !== undefined) {
      try {
        await executor.createSchema(schema);
      } catch (error) {
        await Promise.all([pool.end(), readPool.end()]);
        throw error;
      }
    }
    // In the background: a server that is not reachable yet must not fail the open (calls then fail
    // with the store's typed errors, and the pool connects when it can).
    openAll(pool, poolSize).catch(() => undefined);
    return executor;
  }

  async query(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    this.assertOpen();
    const result = await this.pool.query<SqlRow>(text, [...params]);
    return result.rows;
  }

  /** An API read on the read pool; one cancelled by the read pool's statement_timeout is ReadsBusyError. */
  async read(text: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    this.assertOpen();
    try {
      return (await this.readPool.query<SqlRow>(text, [...params])).rows;
    } catch (error) {
      if (sqlStateOf(error) === QUERY_CANCELED) {
        throw new ReadsBusyError('read_timeout', Math.max(1, Math.ceil(this.readTimeoutMs / 1000)));
      }
      throw error;
    }
  }

  async write(text: string, params: readonly unknown[] = [], options: WriteOptions = {}): Promise<SqlRow[]> {
    const name = options.reuse === true ? this.preparedNameOf(text) : undefined;
    if (name === undefined) return this.query(text, params);
    this.assertOpen();
    // pg parses a named statement once per connection and afterwards sends only Bind/Execute.
    const result = await this.pool.query<SqlRow>({ name, text, values: [...params] });
    return result.rows;
  }

  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    this.assertOpen();
    const client = await this.pool.connect();
    let broken = false;
    // pg-pool drops its own error listener while a client is checked out: a connection the server
    // terminates mid-transaction would otherwise emit an unhandled 'error' and take the hub down.
    // The failing query rejects anyway; here we only mark the client so it is not reused.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work({
        query: async (text, params = []) => (await client.query<SqlRow>(text, [...params])).rows,
        copyText: async (table, columns, text) => {
          const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
          // Chunks go out as they are: no string to encode on the event loop.
          await pipeline(Readable.from(typeof text === 'string' ? [text] : text), sink);
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection is unusable; it is destroyed below instead of going back to the pool.
        broken = true;
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.readPool.end()]);
  }

  /** Two processes opening the same new schema race on the catalog; the loser's error means "exists". */
  private async createSchema(schema: string): Promise<void> {
    try {
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (error) {
      const state = sqlStateOf(error);
      if (state !== '42P06' && state !== '23505') throw error;
    }
  }

  private preparedNameOf(text: string): string | undefined {
    const known = this.preparedNames.get(text);
    if (known !== undefined || this.preparedNames.size >= MAX_PREPARED_TEXTS) return known;
    const name = `sealstream_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
    this.preparedNames.set(text, name);
    return name;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

/**
 * The URL with `-c search_path=<schema>` added to its `options` parameter, or null when the URL is better
 * left as it is. pg lets a URL's parameters override the pool's settings, so a URL carrying its own
 * `options` (say `-c work_mem=64MB`) silently dropped a search_path passed beside it and the store migrated
 * into `public` (found by an outside test). Appended last, so it wins over a search_path the URL sets
 * itself. Null (the caller then passes the search_path beside the URL, as before) for what the WHATWG
 * parser cannot rewrite the way pg reads it: a URL it rejects (e.g. credentials with an empty host for a
 * Unix socket), or one with a bare `%` (pg re-encodes such URLs, which would mangle the added text).
 */
export function withSearchPath(url: string, schema: string): string | null {
  if (/%(?![0-9A-Fa-f]{2})/.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  // pg reads the last `options` when there are several.
  const existing = parsed.searchParams.getAll('options').at(-1);
  const searchPath = `-c search_path=${schema}`;
  parsed.searchParams.delete('options');
  parsed.searchParams.set(
    'options',
    existing === undefined || existing.trim() === '' ? searchPath : `${existing} ${searchPath}`,
  );
  return parsed.toString();
}

/**
 * Opens every connection of a pool now, so the first commits after a start do not each wait for a new
 * connection, backend start and statement plans.
 */
async function openAll(pool: pg.Pool, size: number): Promise<void> {
  const clients = await Promise.allSettled(Array.from({ length: size }, () => pool.connect()));
  for (const outcome of clients) if (outcome.status === 'fulfilled') outcome.value.release();
  const failed = clients.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
