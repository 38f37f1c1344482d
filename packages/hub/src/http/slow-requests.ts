/**
 * How long a client may take to send one HTTP request, and what the hub does when a client breaks the
 * request itself (too slow, headers too large, bytes that are not HTTP). Fastify turns Node's own request
 * timeout off by default, so without this a slow sender (slowloris: a byte every few seconds of headers or
 * body) would hold a socket and a parser for ever. Owns the server timeout settings, the answer to such a
 * client error, and the set of sockets that are inside an ingest request, so that an ingest body that
 * never completes is refused through the pipeline (counted and dead-lettered) like any other bad input.
 */
import type { Socket } from 'node:net';

/** What went wrong with a request before any route saw it. */
export type ClientErrorKind = 'request_timeout' | 'header_overflow' | 'malformed_request';

export const CLIENT_ERROR_KINDS: readonly ClientErrorKind[] = [
  'request_timeout',
  'header_overflow',
  'malformed_request',
];

/** Fastify options that bound one request's headers and body together. */
export interface RequestDeadlineOptions {
  readonly requestTimeout: number;
  readonly http: {
    readonly headersTimeout: number;
    readonly requestTimeout: number;
    readonly connectionsCheckingInterval: number;
  };
}

/**
 * Node enforces both deadlines by sweeping its connections every `connectionsCheckingInterval` (30 s by
 * default), so a deadline can be overrun by up to one interval. A quarter of the deadline, between 50 ms
 * and 5 s, keeps the overrun small without sweeping thousands of sockets too often.
 */
export function requestDeadlineOptions(requestTimeoutMs: number): RequestDeadlineOptions {
  const interval = Math.max(50, Math.min(5_000, Math.floor(requestTimeoutMs / 4)));
  return {
    requestTimeout: requestTimeoutMs,
    http: { headersTimeout: requestTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: interval },
  };
}

export function classifyClientError(error: { readonly code?: unknown }): ClientErrorKind {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'header_overflow';
  return 'malformed_request';
}

const ANSWERS: Readonly<
  Record<ClientErrorKind, { readonly status: number; readonly text: string; readonly message: string }>
> = {
  request_timeout: { status: 408, text: 'Request Timeout', message: 'the request was not received in time' },
  header_overflow: {
    status: 431,
    text: 'Request Header Fields Too Large',
    message: 'the request headers are too large',
  },
  malformed_request: { status: 400, text: 'Bad Request', message: 'the request is not valid HTTP' },
};

/**
 * The raw HTTP answer written to the socket (no route, so no reply object): the API's error shape with
 * the kind as code. The connection is closed after it.
 */
export function clientErrorResponse(kind: ClientErrorKind): string {
  const answer = ANSWERS[kind];
  const body = JSON.stringify({
    error: { code: kind, message: answer.message, details: { retryable: kind === 'request_timeout' } },
  });
  return (
    `HTTP/1.1 ${answer.status} ${answer.text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** The sockets currently inside an ingest request (headers read, answer not yet sent). */
export class IngestSockets {
  private readonly inside = new WeakSet<Socket>();

  enter(socket: Socket): void {
    this.inside.add(socket);
  }

  leave(socket: Socket): void {
    this.inside.delete(socket);
  }

  /** True, once, when the socket was inside an ingest request; it is no longer after this call. */
  take(socket: Socket): boolean {
    return this.inside.delete(socket);
  }
}

export interface ClientErrorHandlerOptions {
  readonly ingestSockets: IngestSockets;
  /** Told about every client error, with whether it cut an ingest request short. */
  readonly onClientError: (kind: ClientErrorKind, socket: Socket, duringIngest: boolean) => void;
}

/** Fastify's `clientErrorHandler`: classify, report, answer if the socket can still take it, close. */
export function createClientErrorHandler(options: ClientErrorHandlerOptions) {
  return (error: Error & { code?: unknown }, socket: Socket): void => {
    // A reset connection has nobody to answer, and is no request of theirs gone wrong.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const kind = classifyClientError(error);
    try {
      options.onClientError(kind, socket, options.ingestSockets.take(socket));
    } finally {
      // As Node does without a handler: a small answer goes out in the write; nothing more is read.
      if (socket.writable) socket.write(clientErrorResponse(kind));
      socket.destroy();
    }
  };
}
