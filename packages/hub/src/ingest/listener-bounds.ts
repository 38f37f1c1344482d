/**
 * The bound on one listener's open connections, and what happens at it. Every connection holds a
 * file descriptor and buffers; without a bound a flood of idle connections takes every descriptor the
 * process has, and then the hub can open neither its database connections nor the HTTP API's. At the
 * bound Node closes each new connection at once (its `drop` event); the drop is counted per source, so
 * devices already connected go on. Before that, the listener's ConnectionGuard (connection-guard.ts)
 * caps each client address at its share and reaps idle unauthenticated connections near the bound, so
 * one address cannot take the places of every device. Listener errors after listening (e.g. accept
 * failing for lack of descriptors) are logged, never thrown.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { PipelineMetrics, SourceKind } from '../pipeline/ports.js';
import { ConnectionGuard, defaultMaxPerAddress, type ConnectionGuardMetrics } from './connection-guard.js';

export interface ListenerBounds {
  readonly source: SourceKind;
  readonly maxConnections: number;
  /** Connections one client address (IPv6: one /64) may hold; default a quarter of maxConnections. */
  readonly maxConnectionsPerAddress?: number;
  readonly metrics: PipelineMetrics;
  readonly guardMetrics?: ConnectionGuardMetrics;
  readonly logger: Logger;
}

const UNCOUNTED: ConnectionGuardMetrics = { refusedPerAddress: () => undefined, reaped: () => undefined };

/**
 * Bounds the server and returns its guard. The guard sees each connection before any other listener
 * does; a connection it refused is already destroyed when the server's own handler runs (check
 * `socket.destroyed` there).
 */
export function boundListener(server: Server, bounds: ListenerBounds): ConnectionGuard {
  server.maxConnections = bounds.maxConnections;
  const guard = new ConnectionGuard({
    source: bounds.source,
    maxConnections: bounds.maxConnections,
    maxPerAddress: bounds.maxConnectionsPerAddress ?? defaultMaxPerAddress(bounds.maxConnections),
    metrics: bounds.guardMetrics ?? UNCOUNTED,
  });
  server.prependListener('connection', (socket) => void guard.admit(socket));
  server.on('drop', () => bounds.metrics.connectionDropped(bounds.source));
  server.on('error', (error) => bounds.logger.warn({ source: bounds.source, err: error.message }, 'listener error'));
  return guard;
}

/**
 * The HTTP listener's view for its guard: a connection is busy while a request is in progress, and
 * pinned once upgraded (a live WebSocket, whose handshake does its own authentication). An idle
 * keep-alive connection, or one that never sent a request, is what gets reaped near the bound.
 */
export function guardHttpActivity(server: HttpServer, guard: ConnectionGuard): void {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    guard.busy(socket, 1);
    response.once('close', () => guard.busy(socket, -1));
  });
  server.on('upgrade', (request: IncomingMessage) => guard.pin(request.socket));
}
