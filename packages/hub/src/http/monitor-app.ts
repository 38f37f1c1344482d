/**
 * What an operator's monitoring reads — readiness (/healthz) and Prometheus metrics (/metrics) — and a
 * small app that serves only those two on a port of their own. The main HTTP port holds at most
 * `--max-connections`, so a flood of idle connections there also shuts out the scraper and the
 * orchestrator's probe; on the monitor port they keep answering. Its own bound is small (monitoring opens
 * few connections) and its requests must arrive within the same deadline as the main port's. Built, not
 * listened: the app decides the port.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReadingStore } from '../pipeline/ports.js';
import { createClientErrorHandler, IngestSockets, requestDeadlineOptions } from './slow-requests.js';

/** Connections the monitor port holds at once; more are closed on accept (monitoring needs a few). */
export const MONITOR_MAX_CONNECTIONS = 64;

export interface MonitorSources {
  readonly store: ReadingStore;
  readonly metricsRegistry: Registry;
  /** False until the hub has migrated and its listeners are up, and again while it shuts down. */
  readonly isReady: () => boolean;
}

/** /healthz: 200 when listening and the store answers, else 503 with why. */
export function readiness(sources: MonitorSources) {
  return async (_request: unknown, reply: FastifyReply): Promise<unknown> => {
    if (!sources.isReady()) return reply.code(503).send({ status: 'starting' });
    try {
      await sources.store.ping();
    } catch {
      return reply.code(503).send({ status: 'store_unavailable', store: sources.store.kind });
    }
    return { status: 'ok', store: sources.store.kind };
  };
}

/** /metrics: the registry in Prometheus' text format. */
export function metricsExposition(sources: MonitorSources) {
  return async (_request: unknown, reply: FastifyReply): Promise<unknown> => {
    const text = await sources.metricsRegistry.metrics();
    return reply.type(sources.metricsRegistry.contentType).send(text);
  };
}

export interface MonitorAppOptions extends MonitorSources {
  readonly logger: FastifyBaseLogger;
  readonly requestTimeoutMs: number;
}

export function buildMonitorApp(options: MonitorAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'monitor' }),
    // Scrapes and probes every few seconds would drown the log.
    disableRequestLogging: true,
    ...requestDeadlineOptions(options.requestTimeoutMs),
    clientErrorHandler: createClientErrorHandler({ ingestSockets: new IngestSockets(), onClientError: () => {} }),
  });
  app.server.maxConnections = MONITOR_MAX_CONNECTIONS;
  app.get('/healthz', readiness(options));
  app.get('/metrics', metricsExposition(options));
  return app;
}
