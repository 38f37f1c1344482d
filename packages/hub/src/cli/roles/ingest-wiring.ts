/**
 * The ingest listeners of a process that takes device traffic (role `all` or `gateway`): native TCP,
 * legacy TCP, MQTT and XRayIOT's AMQP door, all feeding one Pipeline. Created together, listened and
 * started by the composer once the HTTP server is up, closed first on shutdown (stop intake, then
 * commit what was taken). HTTP ingest lives in the HTTP app (http-app.ts `ingest`).
 */
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { HubConfig } from '../../config/hub-config.js';
import { XrayAmqpConsumer } from '../../ingest/amqp/xray-consumer.js';
import {
  DEFAULT_NONCE_WINDOW_MAX_ENTRIES,
  DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE,
} from '../../ingest/http/ingest-routes.js';
import { createLegacyIngest, type LegacyIngest } from '../../ingest/legacy/legacy-tcp.js';
import { createMqttIngest, type MqttIngest } from '../../ingest/mqtt/mqtt-ingest.js';
import { createNativeIngest, type NativeIngest } from '../../ingest/tcp/native-tcp.js';
import type { HubMetrics } from '../../observability/metrics.js';
import { createAmqpMetrics } from '../../observability/amqp-metrics.js';
import { createMqttMetrics } from '../../observability/mqtt-metrics.js';
import type { KeyResolver } from '../../pipeline/keyring.js';
import { LegacyOpenPool } from '../../pipeline/legacy-open-pool.js';
import { NonceWindow } from '../../pipeline/nonce-window.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { SharedStateWiring } from '../shared-state-wiring.js';

export interface IngestParts {
  readonly config: HubConfig;
  readonly pipeline: Pipeline;
  readonly keys: KeyResolver;
  readonly metrics: HubMetrics;
  readonly logger: Logger;
  /** Nonce windows shared with other hubs (Redis); null: this process's memory only. */
  readonly shared: SharedStateWiring | null;
}

export interface IngestListeners {
  readonly native: NativeIngest | null;
  readonly legacy: LegacyIngest | null;
  readonly mqtt: MqttIngest | null;
  readonly amqp: XrayAmqpConsumer | null;
  /** Brokers consumed from, for /healthz (absent when there is none). */
  readonly brokers: (() => Record<string, 'connected' | 'down'>) | undefined;
  /** Listens the TCP ports; the ports taken (null: listener off). */
  listen(): Promise<{ tcp: number | null; legacy: number | null }>;
  /** Starts taking broker messages (last: a broker down now is reconnected in the background). */
  start(): void;
  close(): Promise<void>;
}

export function createIngestListeners(parts: IngestParts): IngestListeners {
  const { config, pipeline, logger, metrics } = parts;
  const { limits } = config;
  const amqpConfig = config.amqp ?? null;
  const amqp =
    amqpConfig === null
      ? null
      : new XrayAmqpConsumer({
          url: amqpConfig.url,
          prefetch: amqpConfig.prefetch,
          retryDelayMs: amqpConfig.retryDelayMs,
          maxInHandBytes: amqpConfig.maxInHandBytes,
          metrics: createAmqpMetrics(metrics.registry),
          logger,
          deps: {
            pipeline,
            keys: parts.keys,
            // Its own window: the AMQP and HTTP doors never see each other's nonces in XRayIOT either.
            nonces: new NonceWindow(config.ingest.signatureToleranceMs, 1_000_000, 200_000),
            ...(parts.shared === null ? {} : { sharedNonces: parts.shared.nonces.amqp }),
            toleranceMs: config.ingest.signatureToleranceMs,
            allowDefaultSecret: config.demo,
            // Each signal's summary commits with its readings (xray-batch.ts).
            storeSummaries: true,
            maxReadingsPerSubmission: limits.maxReadingsPerFrame,
            now: Date.now,
          },
        });
  const mqtt: MqttIngest | null =
    config.mqtt === null
      ? null
      : createMqttIngest({
          pipeline,
          logger,
          metrics: createMqttMetrics(metrics.registry),
          url: config.mqtt.url,
          clientId: config.mqtt.clientId,
          group: config.mqtt.group,
          topicPrefix: config.mqtt.topicPrefix,
          connections: config.mqtt.connections,
          receiveMaximum: config.mqtt.receiveMaximum,
          sessionExpirySeconds: 3600,
          maxFrameBytes: limits.maxFrameBytes,
          maxFramesPerMessage: config.mqtt.framesPerMessage,
          // The body bound of the HTTP sealed-frame route: one frame of the largest size, with room.
          maxMessageBytes: limits.maxFrameBytes + 65_536,
          reconnectMinMs: 500,
          reconnectMaxMs: 30_000,
          signed: {
            keys: parts.keys,
            // Its own window (same tolerance and bounds as the HTTP route's): a message's nonce is spent here.
            nonces: new NonceWindow(
              config.ingest.signatureToleranceMs,
              DEFAULT_NONCE_WINDOW_MAX_ENTRIES,
              DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE,
            ),
            ...(parts.shared === null ? {} : { sharedNonces: parts.shared.nonces.mqtt }),
            signatureToleranceMs: config.ingest.signatureToleranceMs,
            maxReadingsPerMessage: limits.maxReadingsPerFrame,
            now: Date.now,
          },
        });
  const native: NativeIngest | null =
    config.tcpPort === null
      ? null
      : createNativeIngest({
          pipeline,
          metrics: metrics.pipeline,
          logger,
          maxFrameBytes: limits.maxFrameBytes,
          maxInFlightFrames: limits.maxInFlightFramesPerConnection,
          idleTimeoutMs: limits.idleTimeoutMs,
          maxConnections: limits.maxConnectionsPerListener,
          maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
          guardMetrics: metrics.connectionGuard,
          partialFrameTimeoutMs: limits.partialFrameTimeoutMs,
          maxPendingWriteBytes: 1_048_576,
        });
  const legacy: LegacyIngest | null =
    config.legacy === null || config.legacyPort === null
      ? null
      : createLegacyIngest({
          pipeline,
          metrics: metrics.pipeline,
          logger,
          authToken: config.legacy.authToken,
          extraAuthTokens: config.legacy.extraAuthTokens,
          maxLineBytes: limits.maxLineBytes,
          maxTokensPerLine: limits.maxTokensPerLine,
          partialLineTimeoutMs: limits.partialFrameTimeoutMs,
          idleTimeoutMs: limits.legacyIdleTimeoutMs,
          maxConnections: limits.maxConnectionsPerListener,
          maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
          guardMetrics: metrics.connectionGuard,
          maxInFlightLines: limits.maxInFlightLinesPerConnection,
        });
  // Brokers the hub consumes from, for /healthz: one that is down makes it answer `degraded`.
  const brokers =
    amqp === null && mqtt === null
      ? undefined
      : (): Record<string, 'connected' | 'down'> => ({
          ...(amqp === null ? {} : { amqp: amqp.state }),
          ...(mqtt === null ? {} : { mqtt: mqtt.connectedCount > 0 ? 'connected' : 'down' }),
        });
  return {
    native,
    legacy,
    mqtt,
    amqp,
    brokers,
    async listen() {
      const tcp = native === null ? null : await listen(native.server, config.host, config.tcpPort ?? 0);
      const legacyPort = legacy === null ? null : await listen(legacy.server, config.host, config.legacyPort ?? 0);
      return { tcp, legacy: legacyPort };
    },
    start() {
      amqp?.start();
      mqtt?.start();
    },
    async close() {
      await Promise.all([native?.close(), legacy?.close(), amqp?.close(), mqtt?.close()]);
    },
  };
}

function listen(server: NetServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Legacy lines open in worker threads (--legacy-workers) when the legacy listener is on; closed after the pipeline. */
export function createLegacyPool(
  config: HubConfig,
  workerUrl: URL | undefined,
  logger: Logger,
): LegacyOpenPool | undefined {
  if (config.legacy === null || config.legacyPort === null || config.limits.legacyWorkers === 0) return undefined;
  return new LegacyOpenPool({
    size: config.limits.legacyWorkers,
    ...(workerUrl === undefined ? {} : { workerUrl }),
    onWorkerLost: (error) => logger.error({ err: error.message }, 'a legacy open worker was lost; replaced'),
  });
}
