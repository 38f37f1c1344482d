/**
 * The bound on one TCP listener's open connections, and what happens at it. Every connection holds a
 * file descriptor and buffers; without a bound a flood of idle connections takes every descriptor the
 * process has, and then the hub can open neither its database connections nor the HTTP API's. At the
 * bound Node closes each new connection at once (its `drop` event); the drop is counted per source, so
 * devices already connected go on. Listener errors after listening (e.g. accept failing for lack of
 * descriptors) are logged, never thrown.
 */
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { PipelineMetrics, SourceKind } from '../pipeline/ports.js';

export interface ListenerBounds {
  readonly source: SourceKind;
  readonly maxConnections: number;
  readonly metrics: PipelineMetrics;
  readonly logger: Logger;
}

export function boundListener(server: Server, bounds: ListenerBounds): void {
  server.maxConnections = bounds.maxConnections;
  server.on('drop', () => bounds.metrics.connectionDropped(bounds.source));
  server.on('error', (error) => bounds.logger.warn({ source: bounds.source, err: error.message }, 'listener error'));
}
