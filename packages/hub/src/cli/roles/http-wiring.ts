/**
 * Pieces of the HTTP side every process shares: the API's rate limits, the HTTP ingest routes'
 * options, the connection bound of the HTTP port, and the optional monitor port (/healthz, /metrics).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HubConfig } from '../../config/hub-config.js';
import { buildMonitorApp, type MonitorAppOptions } from '../../http/monitor-app.js';
import type { RateLimitSettings } from '../../http/rate-limits.js';
import type { IngestRouteOptions } from '../../ingest/http/ingest-routes.js';
import { SIGNAL_BODY_LIMIT_BYTES } from '../../ingest/http/signed-route.js';
import { boundListener, guardHttpActivity } from '../../ingest/listener-bounds.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { KeyResolver } from '../../pipeline/keyring.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { SharedStateWiring } from '../shared-state-wiring.js';

export function apiRateLimits(config: HubConfig): RateLimitSettings {
  return {
    apiPerWindow: config.api.apiRequestsPerMinute,
    apiKeyPerWindow: config.api.apiKeyRequestsPerMinute,
    loginPerWindow: config.api.loginAttemptsPerMinute,
    windowMs: 60_000,
  };
}

export function httpIngestOptions(
  config: HubConfig,
  pipeline: Pipeline,
  keys: KeyResolver,
  storeSignalSummaries: boolean,
  shared: SharedStateWiring | null,
): IngestRouteOptions {
  const { limits } = config;
  return {
    pipeline,
    keys,
    signatureToleranceMs: config.ingest.signatureToleranceMs,
    rateLimit: { perDevicePerWindow: config.ingest.requestsPerDevicePerMinute, windowMs: 60_000 },
    maxFrameBytes: limits.maxFrameBytes,
    // A request may carry as many readings as one frame; the body limit is a frame plus its envelope.
    maxReadingsPerRequest: limits.maxReadingsPerFrame,
    bodyLimitBytes: limits.maxFrameBytes + 65_536,
    signedBodyLimitBytes: Math.max(limits.maxFrameBytes + 65_536, SIGNAL_BODY_LIMIT_BYTES),
    allowDefaultSecret: config.demo,
    storeSignalSummaries,
    ...(config.ingest.jwtSecret === undefined ? {} : { ingestJwtSecret: config.ingest.jwtSecret }),
    // Demo: the demo key speaks for any device, so InsightHub clients may name any device id.
    ingestJwtAllowsSharedKeys: config.demo,
    ...(shared === null ? {} : { sharedNonces: shared.nonces.http, sharedRateLimit: shared.ingestRateLimit }),
  };
}

/** HTTP connections (API, ingest, dashboards' live channels) are bounded like the TCP listeners'. */
export function guardHttp(http: FastifyInstance, config: HubConfig, metrics: HubMetrics, logger: Logger): void {
  const guard = boundListener(http.server, {
    source: 'http',
    maxConnections: config.limits.maxConnectionsPerListener,
    maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
    metrics: metrics.pipeline,
    guardMetrics: metrics.connectionGuard,
    logger,
  });
  guardHttpActivity(http.server, guard);
}

/** The monitor port when --monitor-port is set: its port (null: off) and how to close it. */
export async function listenMonitor(
  config: HubConfig,
  options: MonitorAppOptions,
): Promise<{ port: number | null; close(): Promise<void> }> {
  if (config.monitorPort === null) return { port: null, close: async () => undefined };
  const monitor = buildMonitorApp(options);
  await monitor.listen({ host: config.host, port: config.monitorPort });
  return {
    port: (monitor.server.address() as AddressInfo).port,
    close: () => monitor.close().catch(() => undefined),
  };
}
