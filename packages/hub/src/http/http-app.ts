/**
 * The hub's HTTP face: health, Prometheus metrics, the first read-only API routes the dashboard needs,
 * and the built dashboard as static files. Built, not listened: the app decides the port, and attaches
 * Socket.IO to `app.server`.
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { LiveStats } from '@sealstream/protocol';
import type { ReadingStore } from '../pipeline/ports.js';
import { registerDeadLetterRoutes } from './dead-letter-routes.js';

export interface HttpAppOptions {
  /** A pino logger; typed as Fastify's base logger so the app's generic stays the default. */
  readonly logger: FastifyBaseLogger;
  readonly store: ReadingStore;
  readonly stats: () => LiveStats;
  readonly metricsRegistry: Registry;
  /** Folder of the built dashboard; when missing, `/` explains how to build it. */
  readonly dashboardDir: string | undefined;
  /** False until the hub has migrated and its listeners are up, and again while it shuts down. */
  readonly isReady: () => boolean;
  readonly bodyLimitBytes?: number;
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    // Scrapes and probes arrive every few seconds; logging them would drown the log.
    logController: new LogController({
      disableRequestLogging: (request) => request.url === '/metrics' || request.url === '/healthz',
    }),
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    requestIdHeader: 'x-request-id',
  });

  app.get('/healthz', async (_request, reply) => {
    if (!options.isReady()) return reply.code(503).send({ status: 'starting' });
    try {
      await options.store.ping();
    } catch {
      return reply.code(503).send({ status: 'store_unavailable', store: options.store.kind });
    }
    return { status: 'ok', store: options.store.kind };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await options.metricsRegistry.metrics();
    return reply.type(options.metricsRegistry.contentType).send(text);
  });

  app.get('/api/v1/stats', async () => options.stats());
  registerDeadLetterRoutes(app, options.store);

  if (options.dashboardDir !== undefined && existsSync(options.dashboardDir)) {
    await app.register(fastifyStatic, { root: options.dashboardDir, prefix: '/' });
  } else {
    app.get('/', async (_request, reply) =>
      reply
        .type('text/plain')
        .send('Sealstream hub is running. The dashboard is not built: run `npm run build` and restart.\n'),
    );
  }
  return app;
}
