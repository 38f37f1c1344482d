/**
 * Opening the store at start (`serve`, `users add`), and what a person reads when the hub cannot reach or prepare its PostgreSQL server at start: words,
 * the server (host:port), the database and the user, and the code last — never the password, never
 * the URL as given. "store migrate failed: SQLSTATE 3D000" says nothing to someone who mistyped a
 * database name; "cannot connect to PostgreSQL at 127.0.0.1:5432 (database tset, user app): the
 * database does not exist (3D000)" does.
 */
import { StoreError } from '../pipeline/store-error.js';
import { openStore } from '../store/index.js';

/** Node socket errors met while connecting. */
const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the server running and listening there?)',
  ECONNRESET: 'the server closed the connection',
  ETIMEDOUT: 'no answer in time',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS not answering)',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EACCES: 'permission denied opening the connection',
  ENOENT: 'no server socket there (is the server running?)',
};

/** SQLSTATEs a server answers while a connection is set up (classes 08, 28, 3D, 53, 57). */
const CONNECT_STATES: Readonly<Record<string, string>> = {
  '08001': 'the server could not establish the connection',
  '08004': 'the server rejected the connection',
  '08006': 'the connection failed',
  '28000': 'the server refused this user or address (no pg_hba.conf entry, or the role does not exist)',
  '28P01': 'password authentication failed',
  '3D000': 'the database does not exist',
  '53300': 'the server has too many connections',
  '57P03': 'the server is not accepting connections yet (starting up or shutting down)',
  '57P01': 'the server is shutting down',
};

/** SQLSTATEs a reachable server answers while the store prepares its schema. */
const PREPARE_STATES: Readonly<Record<string, string>> = {
  '42501': 'permission denied (the user may not create the schema or its tables)',
  '3F000': 'the schema does not exist',
  '25006': 'the server is read-only (a standby?)',
  '53100': 'the disk is full',
  '57014': 'a statement timed out',
};

export interface PostgresTarget {
  readonly url: string;
  readonly schema?: string | undefined;
}

/** The error to print when opening or migrating a PostgreSQL store failed at start. */
export function describeStoreStartFailure(error: unknown, target: PostgresTarget): string {
  const where = describeTarget(target);
  const code = codeOf(error);
  if (code !== undefined && SOCKET_ERRORS[code] !== undefined) {
    return `cannot connect to PostgreSQL at ${where}: ${SOCKET_ERRORS[code]} (${code})`;
  }
  if (code !== undefined && CONNECT_STATES[code] !== undefined) {
    return `cannot connect to PostgreSQL at ${where}: ${CONNECT_STATES[code]} (${code})`;
  }
  if (code !== undefined && PREPARE_STATES[code] !== undefined) {
    return `PostgreSQL at ${where} refused to prepare the store: ${PREPARE_STATES[code]} (${code})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/timeout|timed out/i.test(message)) {
    return `cannot connect to PostgreSQL at ${where}: no answer in time (connection timeout)`;
  }
  if (/ssl/i.test(message)) {
    return `cannot connect to PostgreSQL at ${where}: TLS negotiation failed (check sslmode in the URL)`;
  }
  // Anything else: the driver's own words, with any URL in them reduced to its host, and the code.
  const words = withoutUrls(message).slice(0, 300);
  return `PostgreSQL at ${where} failed while the store started: ${words}${code === undefined ? '' : ` (${code})`}`;
}

/** host:port (database d, user u), from the URL as the driver reads it; never the password. */
export function describeTarget(target: PostgresTarget): string {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return 'the configured server (its URL does not parse)';
  }
  // A `host` parameter (a socket folder, or a host) wins over the URL's host, as in libpq.
  const hostParam = url.searchParams.get('host');
  const host = hostParam ?? (url.hostname === '' ? 'localhost' : url.hostname);
  const port = url.searchParams.get('port') ?? (url.port === '' ? '5432' : url.port);
  const user = decodeSafely(url.username);
  const database = decodeSafely(url.pathname.replace(/^\//, '')) || (user === '' ? 'the default' : user);
  const details = [
    `database ${database}`,
    ...(target.schema === undefined ? [] : [`schema ${target.schema}`]),
    ...(user === '' ? [] : [`user ${user}`]),
  ];
  return `${host}:${port} (${details.join(', ')})`;
}

/** The driver's own code: a StoreError carries the SQLSTATE or socket error it wraps. */
function codeOf(error: unknown): string | undefined {
  if (error instanceof StoreError) return error.sqlState ?? error.socketCode;
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function withoutUrls(text: string): string {
  return text.replace(/postgres(ql)?:\/\/[^\s]*/gi, '<database url>');
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Opens and migrates the store. A PostgreSQL server that cannot be reached or refuses is reported in
 * words with its host, port and database (cli/store-start-errors.ts), never with its password.
 */
export async function openAndMigrate(
  target: { readonly kind: 'pglite' } | ({ readonly kind: 'postgres' } & PostgresTarget),
  options: Parameters<typeof openStore>[0],
): Promise<Awaited<ReturnType<typeof openStore>>> {
  try {
    const store = await openStore(options);
    try {
      await store.migrate();
    } catch (error) {
      // The pool would keep the process alive after the error; PGlite keeps its own close path.
      if (target.kind === 'postgres') await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  } catch (error) {
    if (target.kind !== 'postgres') throw error;
    throw new Error(describeStoreStartFailure(error, target));
  }
}
