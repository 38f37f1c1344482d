/**
 * Wires the single hub process (`--role all`) from a HubConfig: store (migrated), pipeline, ingest
 * listeners, HTTP (health, metrics, API, dashboard) with the live layer, and listens; its parts are
 * built by cli/roles/* modules, which start-roles.ts composes differently for scaled-out roles. Returns handles
 * for the caller (the CLI or a test) and an orderly `close()` that stops intake, commits what is
 * queued, then closes the store.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/hub-config.js';
import { registerClusterRoutes } from '../http/cluster-routes.js';
import { buildHttpApp } from '../http/http-app.js';
import { generatePassword, hashPassword } from '../http/password-hash.js';
import type { MqttIngest } from '../ingest/mqtt/mqtt-ingest.js';
import { LiveSessions, type WsLive } from '../live/index.js';
import { createMetrics } from '../observability/metrics.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ReadingStore } from '../pipeline/ports.js';
import { signalStoreFor, type openStore } from '../store/index.js';
import { openRegistry } from './registry-wiring.js';
import { openSharedState, sharedWindows } from './shared-state-wiring.js';
import { apiRateLimits, guardHttp, httpIngestOptions, listenMonitor } from './roles/http-wiring.js';
import { createIngestListeners, createLegacyPool } from './roles/ingest-wiring.js';
import { startClusterPresence } from './roles/cluster-wiring.js';
import { createLiveLayer } from './roles/live-wiring.js';
import { createPipeline } from './roles/pipeline-wiring.js';
import { openHubStore, startStoreUpkeep } from './roles/store-wiring.js';

export interface RunningHub {
  readonly config: HubConfig;
  readonly store: ReadingStore;
  readonly pipeline: Pipeline;
  readonly http: FastifyInstance;
  /** MQTT ingest (null without --mqtt-url). */
  readonly mqtt: MqttIngest | null;
  readonly ports: {
    readonly http: number;
    readonly tcp: number | null;
    readonly legacy: number | null;
    readonly monitor: number | null;
  };
  /**
   * Demo mode, first successful start only: the admin account created with a random password, to print
   * once. It is created after every listener is up, so a start that fails never creates it unseen.
   */
  readonly demoAdmin: { readonly username: string; readonly password: string } | null;
  /** The plain-WebSocket live server (`endForAccount` ends an account's connections). */
  readonly wsLive: WsLive;
  close(): Promise<void>;
}

export interface StartHubOptions {
  readonly logger: Logger;
  readonly dashboardDir: string | undefined;
  /** Defaults to a fresh registry; tests pass their own to read metrics. */
  readonly collectDefaultMetrics?: boolean;
  /** The legacy open worker's script; defaults to the built one (tests running from sources bundle it). */
  readonly legacyWorkerUrl?: URL;
}

export async function startHub(config: HubConfig, options: StartHubOptions): Promise<RunningHub> {
  const { logger } = options;
  let ready = false;
  const metrics = createMetrics({ collectDefaultMetrics: options.collectDefaultMetrics ?? false });
  const store = await openHubStore(config, logger);
  const registry = await openRegistry(config, store, logger);

  const { limits } = config;
  // The app owns the threads: legacy lines open in workers (--legacy-workers), closed after the pipeline.
  const legacyPool = createLegacyPool(config, options.legacyWorkerUrl, logger);
  // Several single-process hubs (behind one MQTT group, say) may share their windows through Redis.
  const shared = config.redis === null ? null : await openSharedState(config.redis, sharedWindows(config), logger);
  const pipeline = createPipeline({
    config,
    store,
    metricNames: (device, limit) => store.deviceMetricNames(device, limit),
    keys: registry.keys,
    metrics,
    logger,
    legacyPool,
    shared,
  });
  await pipeline.start();
  const upkeep = startStoreUpkeep(store, config, logger, metrics);

  // XRayIOT signal summaries (xray_signals) are committed with their readings; the API lists them.
  const signalStore = signalStoreFor(store);
  const ingest = createIngestListeners({
    config,
    pipeline,
    keys: registry.keys,
    metrics,
    logger,
    shared,
  });
  const identity = { role: 'all', instance: config.instance };
  // As start-roles.ts reports them: Redis when it is configured (no bus in one process).
  const dependencies = (): Record<string, 'up' | 'down'> =>
    shared === null ? {} : { redis: shared.state.ready ? 'up' : 'down' };
  // One process without a bus: the cluster view is this process (start-roles.ts: heartbeats in Redis).
  const presence = startClusterPresence({
    redis: null,
    instance: config.instance,
    roles: ['all'],
    acceptedPerSec: () => pipeline.stats().readingsPerSec,
    logger,
  });

  const jwtSecret = config.api.jwtSecret ?? randomBytes(32).toString('hex');
  // Live connections by account: disabling an account ends them at once (Socket.IO here; any live transport).
  const liveSessions = new LiveSessions();
  const http = await buildHttpApp({
    logger,
    store,
    stats: () => pipeline.stats(),
    rateHistory: () => pipeline.rateHistory(),
    metricsRegistry: metrics.registry,
    accounts: store,
    queries: store,
    // Demo mode only: a fresh secret per start (tokens die with the process), and the dashboard's reads stay open.
    jwtSecret,
    tokenTtlSeconds: config.api.tokenTtlSeconds,
    maxSessionSeconds: config.api.maxSessionHours * 3600,
    rateLimits: apiRateLimits(config),
    corsOrigins: config.api.corsOrigins,
    requestTimeoutMs: limits.httpRequestTimeoutMs,
    onClientError: (kind) => metrics.http.clientError(kind),
    ingest: httpIngestOptions(config, pipeline, registry.keys, true, shared),
    ...(shared === null ? {} : { shared: shared.http }),
    admin: {
      devices: registry.devices,
      apiKeys: registry.apiKeys,
      redrive: {
        findDeadLetter: (id) => registry.store.findDeadLetter(id),
        markRedriven: (id, outcome, at) => registry.store.markRedriven(id, outcome, at),
        claimRedrive: (id, at, leaseMs) => registry.store.claimRedrive(id, at, leaseMs),
        releaseRedrive: (id) => registry.store.releaseRedrive(id),
        redrive: (letter) => pipeline.redrive(letter),
      },
    },
    openDashboardReads: config.demo,
    dashboardDir: options.dashboardDir,
    isReady: () => ready,
    liveSessions,
    signals: signalStore,
    identity,
    dependencies,
    extraApiRoutes: (scope, auth) => registerClusterRoutes(scope, presence.source, auth.require('operator')),
    ...(ingest.brokers === undefined ? {} : { brokers: ingest.brokers }),
  });
  const live = createLiveLayer({
    config,
    http,
    accounts: store,
    stats: () => pipeline.stats(),
    metrics,
    sessions: liveSessions,
    logger,
  });
  for (const sink of live.sinks) pipeline.addLiveSink(sink);

  // HTTP connections (API, ingest, dashboards' Socket.IO) are bounded like the TCP listeners'.
  guardHttp(http, config, metrics, logger);
  await http.listen({ host: config.host, port: config.httpPort });
  const httpPort = (http.server.address() as AddressInfo).port;
  const listened = await ingest.listen();
  const monitor = await listenMonitor(config, {
    logger,
    store,
    metricsRegistry: metrics.registry,
    isReady: () => ready,
    requestTimeoutMs: limits.httpRequestTimeoutMs,
    identity,
    dependencies,
    ...(ingest.brokers === undefined ? {} : { brokers: ingest.brokers }),
  });
  // Taking messages last: a broker down now is reconnected in the background (/healthz says degraded).
  ingest.start();
  // Only now that every listener is up: a start that fails earlier (a port in use) must not create the
  // account whose password only a successful start prints.
  const demoAdmin = config.demo ? await createDemoAdmin(store) : null;
  ready = true;

  let closing: Promise<void> | undefined;
  return {
    config,
    store,
    pipeline,
    http,
    mqtt: ingest.mqtt,
    ports: { http: httpPort, tcp: listened.tcp, legacy: listened.legacy, monitor: monitor.port },
    demoAdmin,
    wsLive: live.wsLive,
    close() {
      closing ??= (async () => {
        ready = false;
        // Stop intake first, so everything accepted before this point is committed and answered.
        await ingest.close();
        await pipeline.close();
        await legacyPool?.close();
        await live.close();
        await http.close().catch(() => undefined);
        await monitor.close();
        registry.stop();
        await upkeep.stop();
        await store.close();
        await shared?.close();
      })();
      return closing;
    },
  };
}

/** Creates `admin` with a random password when the store has no account yet; null when it has. */
async function createDemoAdmin(
  store: Awaited<ReturnType<typeof openStore>>,
): Promise<{ username: string; password: string } | null> {
  if ((await store.countUsers()) > 0) return null;
  const password = generatePassword();
  const created = await store.createUser({
    username: 'admin',
    role: 'admin',
    passwordHash: await hashPassword(password),
  });
  return created.ok ? { username: 'admin', password } : null;
}
