/**
 * What the request log says about a request. Fastify logs every request's method and URL; some URLs
 * carry a credential — in their path (the single-use export download links, /api/v1/exports/<ticket>)
 * or in their query, where clients put tokens the hub never asked for there (`?access_token=`,
 * `?token=`, `?api_key=`, …) — and a log must never hold a working credential, so those are replaced
 * before the line is written: the value of every query parameter whose name looks like a credential,
 * and anything shaped like a JWT or one of the hub's own keys wherever it appears. Also which requests are not logged at all: scrapes and probes, which arrive every few
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

/**
 * Query parameter names whose values are treated as credentials (matched anywhere in the decoded name,
 * case-insensitive: `access_token`, `X-Amz-Signature`, `apiKey`, `client_secret`, `password`, …).
 * Redacting a harmless value by mistake costs a log detail; missing a credential leaks it.
 */
const CREDENTIAL_PARAM = /token|secret|passw|pwd|key|auth|sig|hmac|session|credential|ticket|jwt|bearer|code|nonce/i;
/** A JWT (header.payload.signature, base64url, header starting `{"`), or the hub's API keys and device tokens. */
const CREDENTIAL_SHAPED = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|\bss[kt]_[^&#/?\s]+/g;

export function redactUrl(url: string): string {
  return redactQuery(
    url
      .replace(CREDENTIAL_PATHS, `$1${REDACTED}`)
      .replace(TICKET_SHAPED_SEGMENT, `$1${REDACTED}`)
      .replace(CREDENTIAL_SHAPED, REDACTED),
  );
}

function redactQuery(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const hash = url.indexOf('#', start);
  const end = hash < 0 ? url.length : hash;
  const query = url
    .slice(start + 1, end)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      return CREDENTIAL_PARAM.test(decodeName(name)) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return `${url.slice(0, start + 1)}${query}${url.slice(end)}`;
}

/** A parameter name as the server would read it (`%74oken`, `access+token`); the raw text if it does not decode. */
function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
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
