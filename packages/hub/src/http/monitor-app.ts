/**
 * What an operator's monitoring reads — readiness (/healthz) and Prometheus metrics (/metrics) — and a
 * small app that serves only those two on a port of their own. The main HTTP port holds at most
 * `--max-connections`, so a flood of idle connections there also shuts out the scraper and the
 * orchestrator's probe; on the monitor port they keep answering. Its own bound is small (monitoring opens
 * few connections) and its requests must arrive within the same deadline as the main port's. Built, not
 * listened: the app decides the port.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReadingStore } from '../pipeline/ports.js';
import { createClientErrorHandler, IngestSockets, requestDeadlineOptions } from './slow-requests.js';
import { requestLogView } from './request-log.js';

/** Connections the monitor port holds at once; more are closed on accept (monitoring needs a few). */
export const MONITOR_MAX_CONNECTIONS = 64;

export interface MonitorSources {
  readonly store: ReadingStore;
  readonly metricsRegistry: Registry;
  /** False until the hub has migrated and its listeners are up, and again while it shuts down. */
  readonly isReady: () => boolean;
  /**
   * Brokers the hub consumes from (AMQP, MQTT) and whether each is connected now. One that is down makes
   * /healthz answer 200 `degraded` (the hub still serves every other door) and name it.
   */
  readonly brokers?: () => Readonly<Record<string, 'connected' | 'down'>>;
  /** Which process answers (its role(s) and instance); absent: /healthz names neither (tests of the probe alone). */
  readonly identity?: { readonly role: string; readonly instance: string };
  /**
   * Shared services this process depends on besides its store (the bus, Redis) and whether each is up.
   * One that is down makes /healthz answer 200 `degraded`, like a broker.
   */
  readonly dependencies?: () => Readonly<Record<string, 'up' | 'down'>>;
}

/**
 * How long /healthz waits for the store before answering 503 `store_unresponsive`. A store that hangs
 * (PGlite after its disk filled spins without answering; a server pool held by statements that wait on a
 * lock) must read as unhealthy to the orchestrator, not as a probe that times out with no answer.
 */
export const HEALTH_PING_TIMEOUT_MS = 2000;

/** /healthz: 200 when listening and the store answers (`degraded` when a dependency is down), else 503 with why. */
export function readiness(sources: MonitorSources, pingTimeoutMs = HEALTH_PING_TIMEOUT_MS) {
  // One ping in flight at most: while the store hangs, every probe waits on the same one instead of
  // queueing another statement behind the stuck one.
  let inFlight: Promise<'ok' | 'failed'> | null = null;
  const ping = (): Promise<'ok' | 'failed'> => {
    inFlight ??= sources.store.ping().then(
      () => 'ok' as const,
      () => 'failed' as const,
    );
    const current = inFlight;
    void current.finally(() => {
      if (inFlight === current) inFlight = null;
    });
    return current;
  };
  return async (_request: unknown, reply: FastifyReply): Promise<unknown> => {
    if (!sources.isReady()) return reply.code(503).send({ status: 'starting', ...who(sources, null) });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), pingTimeoutMs);
    });
    const outcome = await Promise.race([ping(), late]);
    clearTimeout(timer);
    const store = sources.store.kind;
    if (outcome === 'late')
      return reply.code(503).send({ status: 'store_unresponsive', store, ...who(sources, 'down') });
    if (outcome === 'failed')
      return reply.code(503).send({ status: 'store_unavailable', store, ...who(sources, 'down') });
    const brokers = sources.brokers?.();
    const identity = who(sources, 'up');
    const depsDown = Object.values(identity.deps ?? {}).some((state) => state !== 'up');
    if (brokers === undefined || Object.keys(brokers).length === 0) {
      return { status: depsDown ? 'degraded' : 'ok', store, ...identity };
    }
    const degraded = depsDown || Object.values(brokers).some((state) => state !== 'connected');
    return { status: degraded ? 'degraded' : 'ok', store, brokers, ...identity };
  };
}

/** The role, instance and dependencies part of a /healthz answer (nothing without an identity). */
function who(
  sources: MonitorSources,
  store: 'up' | 'down' | null,
): { role?: string; instance?: string; deps?: Record<string, 'up' | 'down'> } {
  if (sources.identity === undefined) return {};
  return {
    role: sources.identity.role,
    instance: sources.identity.instance,
    deps: { ...(store === null ? {} : { postgres: store }), ...(sources.dependencies?.() ?? {}) },
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
    // Errors are logged with their request: its URL redacted as on the API port.
    loggerInstance: options.logger.child({ component: 'monitor' }, { serializers: { req: requestLogView } }),
    // Scrapes and probes every few seconds would drown the log. (Through a LogController: Fastify 5
    // prints a deprecation warning to every start's stderr for the top-level disableRequestLogging.)
    logController: new LogController({ disableRequestLogging: true }),
    ...requestDeadlineOptions(options.requestTimeoutMs),
    clientErrorHandler: createClientErrorHandler({ ingestSockets: new IngestSockets(), onClientError: () => {} }),
  });
  app.server.maxConnections = MONITOR_MAX_CONNECTIONS;
  app.get('/healthz', readiness(options));
  app.get('/metrics', metricsExposition(options));
  return app;
}
