/**
 * What a store throws: a StoreError whose code says what retrying can do. The store classifies its
 * driver's errors into these codes (store/store-errors.ts); the committer acts on them once — retry
 * with backoff, split the batch, or fail at once — and the HTTP error handler maps them to answers
 * (http/api-errors.ts). docs/errors.md ("Store errors") lists the same table; a test keeps them in step.
 */
import { SealstreamError } from '@sealstream/protocol';

export const STORE_ERRORS = {
  store_unavailable: {
    retryable: true,
    description:
      'The database cannot serve the operation now: connection lost or refused (08), server shutting down or a statement timeout (57), out of connections, memory or disk (53), a serialization failure or deadlock (40), a lock not available (55). The same operation may succeed later.',
  },
  store_refused_data: {
    retryable: false,
    description:
      'The database refused the data itself: an invalid or out-of-range value (22), a constraint (23), a program limit such as an index entry too large (54). The same data is refused again; a commit is split so that only the refused reading is refused.',
  },
  store_defect: {
    retryable: false,
    description:
      'The database refused the statement or the setup: a missing table or column, or another programming error (42, 0A, 25, XX), or a database it cannot use as configured (28 authentication, 3D unknown database, 3F unknown schema). Retrying cannot help until it is fixed; it fails at once.',
  },
} as const satisfies Record<string, { readonly retryable: boolean; readonly description: string }>;

export type StoreErrorCode = keyof typeof STORE_ERRORS;

export class StoreError extends SealstreamError {
  declare readonly code: StoreErrorCode;

  constructor(
    code: StoreErrorCode,
    message: string,
    /** The SQLSTATE behind it, when the database gave one. */
    readonly sqlState?: string,
    /** The socket error behind it (ECONNREFUSED, ENOTFOUND, ...), when the connection failed. */
    readonly socketCode?: string,
  ) {
    super(code, message, STORE_ERRORS[code].retryable);
    this.name = 'StoreError';
  }
}

/**
 * The code of any error a store threw. An error that is not a StoreError (a store double, a bug outside
 * the store's guard) counts as unavailability: retried until the deadline, as before codes existed.
 */
export function storeErrorCodeOf(error: unknown): StoreErrorCode {
  return error instanceof StoreError ? error.code : 'store_unavailable';
}
