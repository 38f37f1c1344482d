/**
 * What the request log says about a request. Fastify logs every request's method and URL; some URLs
 * carry a credential in their path — the single-use export download links (/api/v1/exports/<ticket>)
 * — and a log must never hold a working credential, so that path segment is replaced before the line
 * is written. Also which requests are not logged at all: scrapes and probes, which arrive every few
 * seconds and would drown the log.
 */
import { LogController, type FastifyRequest } from 'fastify';
import { REDACTED } from '../observability/logger.js';

/** Paths whose next segment is a credential (case-insensitive: the router may match other spellings). */
const CREDENTIAL_PATHS = /(\/api\/v1\/exports\/)[^/?#]+/gi;
/**
 * Any path segment shaped like a download ticket (43 base64url characters), wherever it appears: a
 * percent-encoded route (`/api/v1/%65xports/…`) can reach the ticket route without matching the pattern
 * above, and a path segment of exactly this shape is never something a log needs.
 */
const TICKET_SHAPED_SEGMENT = /(\/)[A-Za-z0-9_-]{43}(?=$|[/?#])/g;

export function redactUrl(url: string): string {
  return url.replace(CREDENTIAL_PATHS, `$1${REDACTED}`).replace(TICKET_SHAPED_SEGMENT, `$1${REDACTED}`);
}

/** Fastify's own `req` log view (method, url, host, address), with the URL redacted. */
export function requestLogView(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

const UNLOGGED = new Set(['/metrics', '/healthz']);

export class RequestLogController extends LogController {
  constructor() {
    super({ disableRequestLogging: (request: FastifyRequest) => UNLOGGED.has(request.url) });
  }

  /** Fastify's default 404 line quotes the raw URL; ours quotes it redacted. */
  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.info(`Route ${request.method}:${redactUrl(request.url)} not found`);
  }
}
