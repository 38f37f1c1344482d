/**
 * Turns driver errors into StoreErrors (pipeline/store-error.ts): a code saying what retrying can do,
 * classified once here by SQLSTATE class, and a message that names the failure and nothing else. Driver
 * errors can carry data values (PostgreSQL details, PGlite's copy of the query parameters), so the
 * original error is deliberately not attached as `cause`.
 */
import { StoreError, type StoreErrorCode } from '../pipeline/store-error.js';

/** SQLSTATE codes worth naming in words; anything else is reported by its code alone. */
const SQLSTATE_NAMES: Readonly<Record<string, string>> = {
  '08000': 'connection exception',
  '08003': 'connection does not exist',
  '08006': 'connection failure',
  '22003': 'numeric value out of range',
  '22P05': 'untranslatable character',
  '22021': 'character not in repertoire',
  '23514': 'check violation (no partition for a timestamp?)',
  '25P02': 'transaction aborted',
  '40001': 'serialization failure',
  '40P01': 'deadlock detected',
  '42P01': 'undefined table (store not migrated?)',
  '53100': 'disk full',
  '53200': 'out of memory',
  '53300': 'too many connections',
  '54000': 'program limit exceeded (an index entry too large?)',
  '57014': 'statement timeout or cancel',
  '57P01': 'server shutting down',
  '57P03': 'server not accepting connections',
};

const MAX_REASON_CHARS = 200;

export function sqlStateOf(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A short, value-free description of why an operation failed. */
export function failureReason(error: unknown): string {
  const sqlState = sqlStateOf(error);
  if (sqlState !== undefined) {
    const name = SQLSTATE_NAMES[sqlState];
    return name === undefined ? `SQLSTATE ${sqlState}` : `${name} (SQLSTATE ${sqlState})`;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // Node socket errors (ECONNREFUSED, ...) name themselves by code.
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    // Non-database driver errors ("Connection terminated", "PGlite is closed") carry no data values.
    if (!('severity' in error)) return error.message.slice(0, MAX_REASON_CHARS);
  }
  return 'unknown error';
}

/**
 * SQLSTATE classes of errors the same data raises again however often it is retried: data exceptions
 * (22), integrity (23) and cardinality (21) violations, triggered data changes (27), WITH CHECK OPTION
 * (44), program limits (54: an index entry over 2704 bytes).
 */
const DATA_CLASSES: ReadonlySet<string> = new Set(['21', '22', '23', '27', '44', '54']);

/**
 * Classes where the statement or the setup is wrong: retrying the same statement on the same database
 * cannot help until someone fixes it. Anything else with a SQLSTATE (08 connection, 40 serialization or
 * deadlock, 53 resources, 55 lock not available, 57 shutdown or timeout, 58 I/O, ...) is unavailability.
 */
const DEFECT_CLASSES: ReadonlySet<string> = new Set([
  '0A', // feature not supported
  '0B', // invalid transaction initiation
  '0L', // invalid grantor
  '0P', // invalid role specification
  '25', // invalid transaction state
  '26', // invalid SQL statement name
  '28', // invalid authorization (wrong password or role)
  '2B', // dependent privilege descriptors still exist
  '2D', // invalid transaction termination
  '2F', // SQL routine exception
  '34', // invalid cursor name
  '38', // external routine exception
  '39', // external routine invocation exception
  '3B', // savepoint exception
  '3D', // invalid catalog name (no such database)
  '3F', // invalid schema name
  '42', // syntax error or access rule violation (no such table, column, function; permission denied)
  'F0', // configuration file error
  'P0', // PL/pgSQL error
  'XX', // internal error (data corrupted, index corrupted)
]);

/** What retrying `error` can do: wait (unavailable), nothing for this data (refused_data), nothing at all (defect). */
export function classifyFailure(error: unknown): StoreErrorCode {
  if (error instanceof StoreError) return error.code;
  const sqlState = sqlStateOf(error);
  if (sqlState !== undefined) {
    const sqlClass = sqlState.slice(0, 2);
    if (DATA_CLASSES.has(sqlClass)) return 'store_refused_data';
    if (DEFECT_CLASSES.has(sqlClass)) return 'store_defect';
    return 'store_unavailable';
  }
  // A bug of ours in building a statement: retrying runs the same code on the same input.
  if (error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError) {
    return 'store_defect';
  }
  // Socket errors, "Connection terminated", "store is closed", a worker that exited: unavailability.
  return 'store_unavailable';
}

export function storeFailure(operation: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(
    classifyFailure(error),
    `store ${operation} failed: ${failureReason(error)}`,
    sqlStateOf(error),
    socketCodeOf(error),
  );
}

function socketCodeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z_]{3,}$/.test(code) ? code : undefined;
}
