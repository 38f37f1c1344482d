/**
 * Turns driver errors into store errors whose message names the failure and nothing else. Driver
 * errors can carry data values (PostgreSQL details, PGlite's copy of the query parameters), so the
 * original error is deliberately not attached as `cause`.
 */

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

export function storeFailure(operation: string, error: unknown): Error {
  return new Error(`store ${operation} failed: ${failureReason(error)}`);
}
