/**
 * What the three HTTP ingest routes share: how a refusal reason becomes an HTTP status and the API's one
 * error shape (the pipeline reason rides in `details.reason`), the 503 + Retry-After answer for a busy
 * hub, refusing a whole request (counted and dead-lettered with its raw body through the pipeline), the
 * peer description, and the content-type / saturation gate that runs before a body is read.
 */
import { REASONS, type ReasonCode } from '@sealstream/protocol';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describePeer } from '../peer.js';
import type { Refusal } from '../../pipeline/dead-letters.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { sendApiError, type ApiErrorCode } from '../../http/api-errors.js';

/** Pipeline reasons that mean "the hub cannot take this now": answered 503 with Retry-After. */
export const HUB_BUSY_REASONS: ReadonlySet<ReasonCode> = new Set([
  'overloaded',
  'store_unavailable',
  'shutting_down',
  'state_unavailable',
]);

/** Seconds a client should wait before retrying, per busy reason. */
const RETRY_AFTER_SECONDS: Readonly<Partial<Record<ReasonCode, number>>> = {
  overloaded: 1,
  store_unavailable: 5,
  shutting_down: 5,
  state_unavailable: 2,
};

/** HTTP status (as an API error code) of a request refused as a whole for `reason`. */
export function apiCodeFor(reason: ReasonCode): ApiErrorCode {
  switch (reason) {
    case 'missing_auth':
    case 'bad_signature':
    case 'stale_request':
    case 'unknown_device':
    case 'bad_token':
    case 'unknown_key':
    case 'revoked_key':
      return 'unauthorized';
    case 'device_not_allowed':
      return 'forbidden';
    case 'replayed_nonce':
      return 'conflict';
    case 'store_unavailable':
      return 'store_unavailable';
    case 'state_unavailable':
      return 'state_unavailable';
    case 'overloaded':
    case 'shutting_down':
      return 'overloaded';
    default:
      return 'bad_request';
  }
}

export function peerOf(request: FastifyRequest): string {
  return describePeer(request.raw.socket);
}

export function bodyBytes(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** 503 with Retry-After for a busy hub; the body names the pipeline reason. */
export function sendHubBusy(reply: FastifyReply, reason: ReasonCode, detail: string, extra?: object): FastifyReply {
  const seconds = RETRY_AFTER_SECONDS[reason] ?? 1;
  reply.header('retry-after', seconds);
  return sendApiError(reply, apiCodeFor(reason), `${detail}; retry after ${seconds} s`, {
    reason,
    retryable: true,
    retryAfterSeconds: seconds,
    ...extra,
  });
}

/** Answers a refusal of the whole request without counting it (the pipeline already did, or must not). */
export function sendRefusal(reply: FastifyReply, reason: ReasonCode, detail: string): FastifyReply {
  if (HUB_BUSY_REASONS.has(reason)) return sendHubBusy(reply, reason, detail);
  return sendApiError(reply, apiCodeFor(reason), detail, { reason, retryable: REASONS[reason].retryable });
}

export interface RequestRefusal {
  readonly reason: ReasonCode;
  readonly detail: string;
  /** The device the request claimed, when it named one. */
  readonly device: string | null;
}

/**
 * Refuses the whole request: counted and dead-lettered with its raw body (cut to the dead-letter bound)
 * through the pipeline, then answered. `detail` goes to the client and the dead-letter store, so it
 * never quotes a header value that could be a secret (signatures, tokens).
 */
export function refuseRequest(
  pipeline: Pipeline,
  request: FastifyRequest,
  reply: FastifyReply,
  refusal: RequestRefusal,
): FastifyReply {
  pipeline.refuse({
    reason: refusal.reason,
    source: 'http',
    peer: peerOf(request),
    device: refusal.device,
    detail: refusal.detail,
    raw: bodyBytes(request),
  });
  return sendRefusal(reply, refusal.reason, refusal.detail);
}

/**
 * An ingest request whose headers arrived but whose body did not within the request timeout (a slow or
 * stalled sender). Node answers it 408 and closes it before any route runs, so it is refused here: the
 * body never completed, so nothing of it is kept and no device is named.
 */
export function bodyTimeoutRefusal(socket: Socket, timeoutMs: number): Refusal {
  return {
    reason: 'request_timeout',
    source: 'http',
    peer: describePeer(socket),
    device: null,
    detail: `request not received within ${timeoutMs} ms`,
    raw: new Uint8Array(0),
  };
}

/**
 * The refusal of a body Fastify would not read: over the route's limit (`body_too_large`), or not
 * readable as declared (`malformed_body`: a bad Content-Length, a body cut short). Nothing of it is kept.
 * Null for any other error (ours, already counted, or not about the body).
 */
export function bodyReadRefusal(
  error: { readonly code?: unknown },
  limitBytes: number,
): Pick<Refusal, 'reason' | 'detail' | 'raw'> | null {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { reason: 'body_too_large', detail: `request body over ${limitBytes} bytes`, raw: new Uint8Array(0) };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return { reason: 'malformed_body', detail: 'request body cannot be read as declared', raw: new Uint8Array(0) };
  }
  return null;
}

/** True when the request's content type is `type` (parameters such as charset ignored). */
export function hasContentType(request: FastifyRequest, type: string): boolean {
  const header = request.headers['content-type'];
  if (typeof header !== 'string') return false;
  return header.split(';')[0]?.trim().toLowerCase() === type;
}

/**
 * onRequest gate: the content type the route reads, and no body is read while the commit queue is
 * above its high-water mark (the HTTP form of TCP backpressure).
 */
export function ingestGate(pipeline: Pipeline, contentType: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!hasContentType(request, contentType)) {
      return sendApiError(reply, 'unsupported_media_type', `this route reads ${contentType} bodies`);
    }
    if (pipeline.saturated) {
      return sendHubBusy(reply, 'overloaded', `the hub's commit queue holds ${pipeline.queuedRows} rows`);
    }
    return undefined;
  };
}

/**
 * Route validator for the ingest routes: their schemas document the request, and the handlers check it
 * themselves, so that every refusal gets a reason code, a count and a dead letter (and so that Ajv's
 * type coercion never turns a string seq into a number the TCP path would refuse).
 */
export function acceptAll(): () => true {
  return () => true;
}
