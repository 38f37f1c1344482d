/**
 * The API's one error shape, `{ error: { code, message, details? } }`, its catalogue of codes (kept in
 * step with docs/errors.md by a test), and the Fastify error / not-found handlers that turn every
 * failure into it. Messages are fixed per code or written by our own routes: never an echo of a stack,
 * a driver error or a secret. Errors are told apart by class and code (SealstreamError), never by their
 * message: a route's ApiError carries its answer, a StoreError is answered by its code (STORE_ANSWERS).
 */
import { SealstreamError } from '@sealstream/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StateUnavailableError } from '../pipeline/shared-state-ports.js';
import { StoreError, type StoreErrorCode } from '../pipeline/store-error.js';
import { ReadsBusyError } from '../store/read-budget.js';

export const API_ERRORS = {
  validation_failed: {
    status: 400,
    description: 'The request does not match the route schema; `details` lists each problem.',
  },
  bad_request: { status: 400, description: 'The request cannot be read (malformed JSON, empty body, bad cursor).' },
  unauthorized: {
    status: 401,
    description: 'No bearer token, or the token is invalid, expired or its account disabled.',
  },
  invalid_credentials: { status: 401, description: 'Login refused: unknown user, wrong password or disabled account.' },
  forbidden: { status: 403, description: "The caller's role may not use this route." },
  not_found: { status: 404, description: 'No such route or resource.' },
  conflict: {
    status: 409,
    description:
      'The resource already exists (e.g. a username that is taken), or the change is not allowed in its current state.',
  },
  payload_too_large: { status: 413, description: 'The body exceeds the configured size limit.' },
  unsupported_media_type: { status: 415, description: 'The body has a content type this route does not accept.' },
  rate_limited: {
    status: 429,
    description:
      'A rate limit was exceeded; `details` names it (`limit`), its `max` per `windowMs`, `remaining` and `resetSeconds`.',
  },
  internal_error: { status: 500, description: 'An unexpected failure; the log has the details under the request id.' },
  store_unavailable: { status: 503, description: 'The store could not answer; retry later.' },
  overloaded: {
    status: 503,
    description: 'The hub is shedding load (its commit queue is full); retry after the `Retry-After` seconds.',
  },
  reads_busy: {
    status: 503,
    description:
      'Too many reads are running and waiting, a read waited too long for its turn, or it ran past its time bound (`details.why`: `queue_full`, `wait_timeout`, `read_timeout`); retry after the `Retry-After` seconds.',
  },
  series_too_large: {
    status: 400,
    description:
      'The series asked for holds more than the bounds allow (metrics per request, or buckets × metrics); `details` gives the bounds. Ask for fewer metrics, a wider bucket or a shorter range.',
  },
  not_configured: {
    status: 503,
    description: 'The hub is not configured for this, e.g. issuing device keys without a master key.',
  },
  state_unavailable: {
    status: 503,
    description:
      'The shared state (Redis) several hubs keep replay windows, nonces, export links and login failures in could not answer; nothing was done, retry after the `Retry-After` seconds (see [scale-out.md](scale-out.md#shared-state-redis)).',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details?: unknown };
}

/** Thrown by routes and hooks; the error handler renders it with its code's status. */
export class ApiError extends SealstreamError {
  declare readonly code: ApiErrorCode;

  constructor(
    code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    // Retrying helps only when the hub is busy or a limit resets; a 4xx for the request itself does not.
    super(code, message, API_ERRORS[code].status === 503 || API_ERRORS[code].status === 429);
    this.name = 'ApiError';
  }

  get status(): number {
    return API_ERRORS[this.code].status;
  }
}

export function errorBody(code: ApiErrorCode, message: string, details?: unknown): ApiErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function sendApiError(
  reply: FastifyReply,
  code: ApiErrorCode,
  message: string,
  details?: unknown,
): FastifyReply {
  return reply
    .code(API_ERRORS[code].status)
    .type('application/json')
    .send(errorBody(code, message, details));
}

/** Fastify's own 4xx errors, by status, mapped onto our codes with fixed messages. */
const FRAMEWORK_CODES: Readonly<Record<number, { code: ApiErrorCode; message: string }>> = {
  400: { code: 'bad_request', message: 'the request body or parameters cannot be read' },
  404: { code: 'not_found', message: 'no such route' },
  413: { code: 'payload_too_large', message: 'the request body is too large' },
  415: { code: 'unsupported_media_type', message: 'unsupported content type' },
  429: { code: 'rate_limited', message: 'a rate limit was exceeded' },
};

/**
 * How each store error is answered, the one place that decides it: an outage is 503 (retry later), data
 * the database refused is the request's fault (400), a defect is ours (500, logged).
 */
export const STORE_ANSWERS: Readonly<Record<StoreErrorCode, ApiErrorCode>> = {
  store_unavailable: 'store_unavailable',
  store_refused_data: 'bad_request',
  store_defect: 'internal_error',
};

const STORE_MESSAGES: Readonly<Record<StoreErrorCode, string>> = {
  store_unavailable: 'the store could not answer; retry later',
  store_refused_data: 'the store refused a value of the request',
  store_defect: 'internal error',
};

interface ValidationIssue {
  readonly instancePath?: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: Record<string, unknown>;
}

function validationDetails(error: FastifyError): Array<{ in: string; path: string; message: string }> {
  const where = (error as { validationContext?: string }).validationContext ?? 'request';
  return ((error.validation ?? []) as ValidationIssue[]).map((issue) => {
    const missing = issue.keyword === 'required' ? issue.params?.['missingProperty'] : undefined;
    const extra = issue.keyword === 'additionalProperties' ? issue.params?.['additionalProperty'] : undefined;
    const field = typeof missing === 'string' ? missing : typeof extra === 'string' ? extra : undefined;
    const path = `${issue.instancePath ?? ''}${field === undefined ? '' : `/${field}`}`;
    return { in: where, path: path === '' ? '/' : path, message: issue.message ?? 'is invalid' };
  });
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) return sendApiError(reply, error.code, error.message, error.details);
    if (error instanceof ReadsBusyError) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
      return sendApiError(reply, 'reads_busy', 'the hub is busy with other reads; retry later', { why: error.why });
    }
    if (error instanceof StateUnavailableError) {
      // Shared state (Redis) is away: what needs it (logins, export links, API-key checks) fails closed.
      void reply.header('retry-after', '2');
      return sendApiError(reply, 'state_unavailable', 'shared state is unavailable; retry later');
    }
    if (error.validation !== undefined) {
      return sendApiError(
        reply,
        'validation_failed',
        'the request does not match the schema',
        validationDetails(error),
      );
    }
    const status = error.statusCode ?? 500;
    const known = FRAMEWORK_CODES[status];
    if (known !== undefined) return sendApiError(reply, known.code, known.message);
    if (status >= 400 && status < 500) return sendApiError(reply, 'bad_request', 'the request cannot be served');
    if (error instanceof StoreError) {
      const code = STORE_ANSWERS[error.code];
      // Refused data is the request's fault and needs no operator; an outage or a defect does.
      if (code !== 'bad_request')
        request.log.error({ err: { message: error.message, code: error.code } }, 'request failed');
      const message = code === 'internal_error' ? `internal error (request ${request.id})` : STORE_MESSAGES[error.code];
      return sendApiError(reply, code, message);
    }
    // Everything else is ours to fix: log it (the logger is configured not to carry secrets), answer generically.
    request.log.error({ err: { message: error.message, code: error.code } }, 'request failed');
    return sendApiError(reply, 'internal_error', `internal error (request ${request.id})`);
  });
  app.setNotFoundHandler(answerNoSuchRoute);
}

/** 404 `not_found` for a path no route has; a plugin sets it again so its own hooks (limits) run for it. */
export function answerNoSuchRoute(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendApiError(reply, 'not_found', 'no such route');
}
