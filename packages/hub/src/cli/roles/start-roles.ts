/**
 * Wires one process of a scaled-out hub (`--role gateway|writer|api`, or a combination) from its
 * HubConfig; `--role all` is start-hub.ts, unchanged. Which parts run where:
 *
 *   gateway  store (registry, metric names) · pipeline committing through the bus (BusCommitClient) ·
 *            every ingest listener · HTTP: ingest routes, /healthz, /metrics
 *   writer   store · BusWriter (group commit, notices) · rollup folds, dead-letter pruning ·
 *            HTTP: /healthz, /metrics
 *   api      store (queries, accounts) · committed feed → Socket.IO and /live/ws · stats from the store ·
 *            HTTP: REST API, dashboard, /healthz, /metrics · a pipeline on the bus for dead-letter re-drives
 *   every    Redis heartbeat (cluster view), /metrics labelled with role and instance
 *
 * The orderly close stops intake, lets the pipeline's commits come back through the bus, then stops
 * the writer (after its commit in flight) and closes connections.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { HubConfig, HubRole } from '../../config/hub-config.js';
import { BusCommitClient } from '../../bus/bus-commit-client.js';
import type { BusCommittedFeed } from '../../bus/bus-committed-feed.js';
import type { LiveStats } from '@sealstream/protocol';
import { registerClusterRoutes } from '../../http/cluster-routes.js';
import type { RedriveDeps } from '../../http/redrive-routes.js';
import { buildHttpApp } from '../../http/http-app.js';
import { buildMonitorApp } from '../../http/monitor-app.js';
import { LiveSessions } from '../../live/index.js';
import { createMetrics } from '../../observability/metrics.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { LiveSink } from '../../pipeline/ports.js';
import type { RedisState } from '../../shared-state/redis-state.js';
import { signalStoreFor } from '../../store/index.js';
import { openRegistry, type OpenedRegistry } from '../registry-wiring.js';
import type { StartHubOptions } from '../start-hub.js';
import { ApiStats } from './api-stats.js';
import { openCommittedFeed } from './api-wiring.js';
import { busReadingStore } from './bus-store.js';
import { GATEWAY_IN_FLIGHT_FACTOR, busConnectFailedLog, busTopology, busUrl, noticeTimeoutMs } from './bus-settings.js';
import { startClusterPresence } from './cluster-wiring.js';
import { apiRateLimits, guardHttp, httpIngestOptions, listenMonitor } from './http-wiring.js';
import { createIngestListeners, createLegacyPool, type IngestListeners } from './ingest-wiring.js';
import { createLiveLayer } from './live-wiring.js';
import { createPipeline } from './pipeline-wiring.js';
import { openSharedState, sharedWindows } from '../shared-state-wiring.js';
import { openHubStore } from './store-wiring.js';
import { startWriterRole, type WriterRole } from './writer-wiring.js';

export interface RoleHub {
  readonly config: HubConfig;
  readonly roles: readonly HubRole[];
  readonly ports: {
    readonly http: number;
    readonly tcp: number | null;
    readonly legacy: number | null;
    readonly monitor: number | null;
  };
  readonly demoAdmin: null;
  close(): Promise<void>;
}

export async function startRoles(config: HubConfig, options: StartHubOptions): Promise<RoleHub> {
  if (config.role === 'all') throw new Error('startRoles runs scaled roles; --role all is startHub');
  const roles = config.role;
  const gateway = roles.includes('gateway');
  const writerRole = roles.includes('writer');
  const api = roles.includes('api');
  const roleName = roles.join(',');
  const { logger } = options;
  let ready = false;
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => undefined);
  };

  try {
    const metrics = createMetrics({ collectDefaultMetrics: options.collectDefaultMetrics ?? false });
    // Every series of this process says which process it is, so one Prometheus can scrape a cluster.
    metrics.registry.setDefaultLabels({ role: roleName, instance: config.instance });
    const store = await openHubStore(config, logger);
    closers.push(() => store.close());

    // Replay and nonce windows, rate limits, export links and login failures shared by every node; the
    // same connection carries the heartbeats of the cluster view.
    const shared = config.redis === null ? null : await openSharedState(config.redis, sharedWindows(config), logger);
    if (shared !== null) closers.push(() => shared.close());
    const redis: RedisState | null = shared?.state ?? null;

    let writer: WriterRole | null = null;
    if (writerRole) {
      writer = await startWriterRole(config, store, metrics, logger);
      const started = writer;
      closers.push(() => started.close());
    }

    // Gateways publish to the bus; api nodes too, for dead-letter re-drives.
    let bus: BusCommitClient | null = null;
    let registry: OpenedRegistry | null = null;
    let pipeline: Pipeline | null = null;
    let ingest: IngestListeners | null = null;
    const legacyPool = gateway ? createLegacyPool(config, options.legacyWorkerUrl, logger) : undefined;
    const signalStore = signalStoreFor(store);
    if (gateway || api) {
      const client = await BusCommitClient.open({
        ...busTopology(config),
        url: busUrl(config),
        instance: config.instance,
        noticeTimeoutMs: noticeTimeoutMs(config),
        // Every part of every batch in flight: the pipeline never fails a commit as bus_full.
        maxPendingParts: config.limits.commitConcurrency * GATEWAY_IN_FLIGHT_FACTOR * config.bus.partitions,
        onError: (error) => logger.warn({ err: error.message }, 'bus (gateway) error'),
        onConnectFailed: busConnectFailedLog(logger, 'gateway'),
      });
      bus = client;
      closers.push(() => client.close());
      const opened = await openRegistry(config, store, logger);
      registry = opened;
      closers.push(() => opened.stop());
      const built = createPipeline({
        config,
        store: busReadingStore(client, store),
        metricNames: (device, limit) => store.deviceMetricNames(device, limit),
        keys: opened.keys,
        metrics,
        logger,
        legacyPool,
        shared,
        commitConcurrency: config.limits.commitConcurrency * GATEWAY_IN_FLIGHT_FACTOR,
      });
      await built.start();
      pipeline = built;
      closers.push(async () => {
        await built.close();
        await legacyPool?.close();
      });
      if (gateway) {
        ingest = createIngestListeners({
          config,
          pipeline: built,
          keys: opened.keys,
          metrics,
          logger,
          shared,
        });
      }
    }

    const apiStats = api
      ? new ApiStats(store, (error) => logger.warn({ err: (error as Error).message }, 'stats totals read failed'))
      : null;
    if (apiStats !== null) {
      await apiStats.start();
      closers.push(() => apiStats.stop());
    }
    const presence = startClusterPresence({
      redis,
      instance: config.instance,
      roles,
      acceptedPerSec: () =>
        gateway && pipeline !== null ? pipeline.stats().readingsPerSec : (writer?.committedPerSec() ?? 0),
      logger,
    });
    closers.push(() => presence.stop());

    let feed: BusCommittedFeed | null = null;
    const dependencies = (): Record<string, 'up' | 'down'> => ({
      bus:
        (bus === null || bus.connected) && (writer === null || writer.connected()) && (feed === null || feed.connected)
          ? 'up'
          : 'down',
      ...(redis === null ? {} : { redis: redis.ready ? 'up' : 'down' }),
    });
    const identity = { role: roleName, instance: config.instance };
    const brokers = ingest?.brokers;

    let http: FastifyInstance;
    if (api || gateway) {
      const liveSessions = new LiveSessions();
      const redrivePipeline = pipeline;
      http = await buildHttpApp({
        logger,
        store,
        stats: () => apiStats?.snapshot() ?? redrivePipeline?.stats() ?? emptyStats(),
        rateHistory: () => apiStats?.rateHistory() ?? [],
        metricsRegistry: metrics.registry,
        accounts: store,
        queries: store,
        // Required outside demo mode (and demo mode is refused with roles); the fallback only satisfies types.
        jwtSecret: config.api.jwtSecret ?? randomBytes(32).toString('hex'),
        tokenTtlSeconds: config.api.tokenTtlSeconds,
        maxSessionSeconds: config.api.maxSessionHours * 3600,
        rateLimits: apiRateLimits(config),
        corsOrigins: config.api.corsOrigins,
        requestTimeoutMs: config.limits.httpRequestTimeoutMs,
        onClientError: (kind) => metrics.http.clientError(kind),
        serveApi: api,
        ...(gateway && pipeline !== null && registry !== null
          ? { ingest: httpIngestOptions(config, pipeline, registry.keys, true, shared) }
          : {}),
        ...(shared === null ? {} : { shared: shared.http }),
        ...(registry !== null && redrivePipeline !== null
          ? {
              admin: {
                devices: registry.devices,
                apiKeys: registry.apiKeys,
                redrive: redriveDeps(registry, redrivePipeline),
              },
            }
          : {}),
        openDashboardReads: false,
        dashboardDir: options.dashboardDir,
        isReady: () => ready,
        liveSessions,
        signals: signalStore,
        identity,
        dependencies,
        extraApiRoutes: (scope, auth) => registerClusterRoutes(scope, presence.source, auth.require('operator')),
        ...(brokers === undefined ? {} : { brokers }),
      });
      if (api && apiStats !== null) {
        const layer = createLiveLayer({
          config,
          http,
          accounts: store,
          stats: () => apiStats.snapshot(),
          metrics,
          sessions: liveSessions,
          logger,
        });
        const sinks: readonly LiveSink[] = layer.sinks;
        feed = await openCommittedFeed(config, apiStats, () => sinks, logger);
        const opened = feed;
        closers.push(() => opened.close());
        closers.push(() => layer.close());
      }
      guardHttp(http, config, metrics, logger);
    } else {
      // A writer alone: health and metrics only, on --http-port.
      http = buildMonitorApp({
        logger,
        store,
        metricsRegistry: metrics.registry,
        isReady: () => ready,
        requestTimeoutMs: config.limits.httpRequestTimeoutMs,
        identity,
        dependencies,
      });
    }
    const app = http;
    closers.push(() => app.close().catch(() => undefined));
    await app.listen({ host: config.host, port: config.httpPort });
    const httpPort = (app.server.address() as AddressInfo).port;
    const listened = ingest === null ? { tcp: null, legacy: null } : await ingest.listen();
    const started = ingest;
    if (started !== null) closers.push(() => started.close());
    const monitor = await listenMonitor(config, {
      logger,
      store,
      metricsRegistry: metrics.registry,
      isReady: () => ready,
      requestTimeoutMs: config.limits.httpRequestTimeoutMs,
      identity,
      dependencies,
      ...(brokers === undefined ? {} : { brokers }),
    });
    closers.push(() => monitor.close());
    ingest?.start();
    ready = true;

    let closing: Promise<void> | undefined;
    return {
      config,
      roles,
      ports: { http: httpPort, tcp: listened.tcp, legacy: listened.legacy, monitor: monitor.port },
      demoAdmin: null,
      close() {
        closing ??= (async () => {
          ready = false;
          // Reverse order of start: intake first, then the pipeline (its commits come back through the
          // bus), the live layer and HTTP, the writer after its commit in flight, connections, the store.
          await closeAll();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function redriveDeps(registry: OpenedRegistry, pipeline: Pipeline): RedriveDeps {
  return {
    findDeadLetter: (id) => registry.store.findDeadLetter(id),
    markRedriven: (id, outcome, at) => registry.store.markRedriven(id, outcome, at),
    claimRedrive: (id, at, leaseMs) => registry.store.claimRedrive(id, at, leaseMs),
    releaseRedrive: (id) => registry.store.releaseRedrive(id),
    redrive: (letter) => pipeline.redrive(letter),
  };
}

function emptyStats(): LiveStats {
  return {
    totalReceived: 0,
    totalValid: 0,
    totalInvalid: 0,
    totalDuplicate: 0,
    successRate: 100,
    readingsPerSec: 0,
    rejectsPerSec: 0,
    rejectsByReason: {},
    at: Date.now(),
  };
}
