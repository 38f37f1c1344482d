/**
 * Wires one hub process from a HubConfig: store (migrated), pipeline, native and legacy TCP ingest,
 * HTTP (health, metrics, API, dashboard) with Socket.IO live fan-out, and listens. Returns handles
 * for the caller (the CLI or a test) and an orderly `close()` that stops intake, commits what is
 * queued, then closes the store.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Server as SocketServer } from 'socket.io';
import { legacyKey, type ClientToServerEvents, type ServerToClientEvents } from '@sealstream/protocol';
import type { HubConfig } from '../config/hub-config.js';
import { boundListener, guardHttpActivity } from '../ingest/listener-bounds.js';
import { buildMonitorApp } from '../http/monitor-app.js';
import { buildHttpApp } from '../http/http-app.js';
import { generatePassword, hashPassword } from '../http/password-hash.js';
import { createLegacyIngest, type LegacyIngest } from '../ingest/legacy/legacy-tcp.js';
import { createNativeIngest, type NativeIngest } from '../ingest/tcp/native-tcp.js';
import { createLiveHub, createWsLive, LiveSessions, originCheck, type WsLive } from '../live/index.js';
import { createMqttIngest, type MqttIngest } from '../ingest/mqtt/mqtt-ingest.js';
import { DEFAULT_NONCE_WINDOW_MAX_ENTRIES, DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE } from '../ingest/http/ingest-routes.js';
import { createMqttMetrics } from '../observability/mqtt-metrics.js';
import type { CredentialVerdict } from '../live/handshake-auth.js';
import { createMetrics } from '../observability/metrics.js';
import { LegacyOpenPool } from '../pipeline/legacy-open-pool.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { NonceWindow } from '../pipeline/nonce-window.js';
import type { ReadingStore } from '../pipeline/ports.js';
import { storeErrorCodeOf } from '../pipeline/store-error.js';
import { signalStoreFor, type openStore } from '../store/index.js';
import { XrayAmqpConsumer } from '../ingest/amqp/xray-consumer.js';
import { SignalSummaryWriter } from '../ingest/xray/signal-summaries.js';
import { SIGNAL_BODY_LIMIT_BYTES } from '../ingest/http/signed-route.js';
import { DEAD_LETTER_PRUNE_MS, startDeadLetterPruner } from './dead-letter-pruner.js';
import { openRegistry } from './registry-wiring.js';
import { startRollupFlusher } from './rollup-flusher.js';
import { openSharedState } from './shared-state-wiring.js';
import { openAndMigrate } from './store-start-errors.js';

/** How long a legacy IV is remembered (legacy tokens carry no time to bound a replay by). */
const LEGACY_REPLAY_WINDOW_MS = 3_600_000;

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
  // Failures no caller is waiting for: a background checkpoint, an idle pooled connection the server
  // dropped, a PGlite call that never answered. Only the message: driver errors may carry parameters.
  const onBackgroundError = (error: unknown): void =>
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'store background error');
  const store = await openAndMigrate(
    config.store,
    config.store.kind === 'pglite'
      ? {
          kind: 'pglite',
          dataDir: config.store.dataDir,
          thread: config.store.thread,
          callTimeoutMs: config.store.callTimeoutMs,
          reads: { maxWaiting: config.reads.maxWaiting, maxWaitMs: config.reads.maxWaitMs },
          onBackgroundError,
        }
      : {
          kind: 'postgres',
          url: config.store.url,
          poolSize: config.store.poolSize,
          ...(config.store.schema === undefined ? {} : { schema: config.store.schema }),
          reads: config.reads,
          onBackgroundError,
        },
  );
  const registry = await openRegistry(config, store, logger);

  const { limits } = config;
  // The app owns the threads: legacy lines open in workers (--legacy-workers), closed after the pipeline.
  const legacyPool =
    config.legacy === null || config.legacyPort === null || limits.legacyWorkers === 0
      ? undefined
      : new LegacyOpenPool({
          size: limits.legacyWorkers,
          ...(options.legacyWorkerUrl === undefined ? {} : { workerUrl: options.legacyWorkerUrl }),
          onWorkerLost: (error) => logger.error({ err: error.message }, 'a legacy open worker was lost; replaced'),
        });
  const shared =
    config.redis === null
      ? null
      : await openSharedState(
          config.redis,
          {
            maxClockSkewMs: limits.maxClockSkewMs,
            signatureToleranceMs: config.ingest.signatureToleranceMs,
            legacyReplayWindowMs: LEGACY_REPLAY_WINDOW_MS,
          },
          logger,
        );
  const pipeline = new Pipeline({
    store,
    metrics: metrics.pipeline,
    keys: registry.keys,
    limits: {
      maxClockSkewMs: limits.maxClockSkewMs,
      maxReadingAgeMs: limits.maxReadingAgeMs,
      maxReadingFutureMs: limits.maxReadingFutureMs,
      maxReadingsPerFrame: limits.maxReadingsPerFrame,
      maxBatchRows: limits.maxBatchRows,
      maxQueuedRows: limits.maxQueuedRows,
      highWaterRows: Math.floor(limits.maxQueuedRows / 2),
      commitConcurrency: limits.commitConcurrency,
      commitParallelMinRows: limits.commitParallelMinRows,
      commitRetryDeadlineMs: limits.commitRetryDeadlineMs,
      replayWindowMaxEntries: 1_000_000,
      deadLetters: { maxRawBytes: limits.deadLetterRawBytes, maxPerSecond: limits.deadLettersPerSecond },
    },
    ...(config.legacy === null
      ? {}
      : {
          legacy: {
            key: legacyKey(config.legacy.encryptionKey),
            device: config.legacy.device,
            acceptVariants: config.legacy.acceptVariants,
            replayWindowMs: LEGACY_REPLAY_WINDOW_MS,
          },
        }),
    ...(legacyPool === undefined ? {} : { legacyPool }),
    ...(shared === null ? {} : { shared: shared.pipeline }),
    metricBound: {
      maxPerDevice: config.maxMetricsPerDevice,
      load: (device, limit) => store.deviceMetricNames(device, limit),
    },
    // What the committer does next follows the store error's code (pipeline/committer.ts); every failed
    // attempt also shows in sealstream_commit_failures_total.
    onCommitError: (error, attempt) => logCommitFailure(logger, error, attempt),
  });
  await pipeline.start();
  const rollupFlusher = startRollupFlusher(store, limits.rollupFlushMs, logger, metrics.rollups);
  const deadLetterPruner = startDeadLetterPruner(
    store,
    { maxRows: limits.deadLetterMaxRows, maxAgeMs: limits.deadLetterMaxAgeMs },
    DEAD_LETTER_PRUNE_MS,
    logger,
    metrics.deadLetters,
  );

  // XRayIOT signals (signed HTTP and AMQP): summaries batched into xray_signals after their readings commit.
  const signalStore = signalStoreFor(store);
  const signalSummaries = new SignalSummaryWriter(signalStore, undefined, (error) =>
    logger.warn({ err: (error as Error).message }, 'signal summaries could not be stored'),
  );
  const amqpConfig = config.amqp ?? null;
  const amqp =
    amqpConfig === null
      ? null
      : new XrayAmqpConsumer({
          url: amqpConfig.url,
          prefetch: amqpConfig.prefetch,
          retryDelayMs: amqpConfig.retryDelayMs,
          logger,
          deps: {
            pipeline,
            keys: registry.keys,
            // Its own window: the AMQP and HTTP doors never see each other's nonces in XRayIOT either.
            nonces: new NonceWindow(config.ingest.signatureToleranceMs, 1_000_000, 200_000),
            ...(shared === null ? {} : { sharedNonces: shared.nonces.amqp }),
            toleranceMs: config.ingest.signatureToleranceMs,
            allowDefaultSecret: config.demo,
            summaries: signalSummaries,
            maxReadingsPerSubmission: limits.maxReadingsPerFrame,
            now: Date.now,
          },
        });
  const mqttIngest: MqttIngest | null =
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
          reconnectMinMs: 500,
          reconnectMaxMs: 30_000,
          signed: {
            keys: registry.keys,
            // Its own window (same tolerance and bounds as the HTTP route's): a message's nonce is spent here.
            nonces: new NonceWindow(
              config.ingest.signatureToleranceMs,
              DEFAULT_NONCE_WINDOW_MAX_ENTRIES,
              DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE,
            ),
            ...(shared === null ? {} : { sharedNonces: shared.nonces.mqtt }),
            signatureToleranceMs: config.ingest.signatureToleranceMs,
            maxReadingsPerMessage: limits.maxReadingsPerFrame,
            now: Date.now,
          },
        });
  // Brokers the hub consumes from, for /healthz: one that is down makes it answer `degraded`.
  const brokers = (): Record<string, 'connected' | 'down'> => ({
    ...(amqp === null ? {} : { amqp: amqp.state }),
    ...(mqttIngest === null ? {} : { mqtt: mqttIngest.connectedCount > 0 ? 'connected' : 'down' }),
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
    rateLimits: {
      apiPerWindow: config.api.apiRequestsPerMinute,
      apiKeyPerWindow: config.api.apiKeyRequestsPerMinute,
      loginPerWindow: config.api.loginAttemptsPerMinute,
      windowMs: 60_000,
    },
    corsOrigins: config.api.corsOrigins,
    requestTimeoutMs: limits.httpRequestTimeoutMs,
    onClientError: (kind) => metrics.http.clientError(kind),
    ingest: {
      pipeline,
      keys: registry.keys,
      signatureToleranceMs: config.ingest.signatureToleranceMs,
      rateLimit: { perDevicePerWindow: config.ingest.requestsPerDevicePerMinute, windowMs: 60_000 },
      maxFrameBytes: limits.maxFrameBytes,
      // A request may carry as many readings as one frame; the body limit is a frame plus its envelope.
      maxReadingsPerRequest: limits.maxReadingsPerFrame,
      bodyLimitBytes: limits.maxFrameBytes + 65_536,
      signedBodyLimitBytes: Math.max(limits.maxFrameBytes + 65_536, SIGNAL_BODY_LIMIT_BYTES),
      allowDefaultSecret: config.demo,
      signalSummaries,
      ...(config.ingest.jwtSecret === undefined ? {} : { ingestJwtSecret: config.ingest.jwtSecret }),
      // Demo: the demo key speaks for any device, so InsightHub clients may name any device id.
      ingestJwtAllowsSharedKeys: config.demo,
      ...(shared === null ? {} : { sharedNonces: shared.nonces.http, sharedRateLimit: shared.ingestRateLimit }),
    },
    ...(shared === null ? {} : { shared: shared.http }),
    admin: {
      devices: registry.devices,
      apiKeys: registry.apiKeys,
      redrive: {
        findDeadLetter: (id) => registry.store.findDeadLetter(id),
        markRedriven: (id, outcome, at) => registry.store.markRedriven(id, outcome, at),
        redrive: (letter) => pipeline.redrive(letter),
      },
    },
    openDashboardReads: config.demo,
    dashboardDir: options.dashboardDir,
    isReady: () => ready,
    liveSessions,
    signals: signalStore,
    ...(amqp === null && mqttIngest === null ? {} : { brokers }),
  });
  // Browsers from the --cors-origins (a dashboard served from its own origin) may open the live
  // channels; with the list set, other foreign origins are refused at the handshake (origin-check.ts).
  const allowOrigin = originCheck(config.api.corsOrigins);
  const io = new SocketServer<ClientToServerEvents, ServerToClientEvents>(http.server, {
    serveClient: false,
    maxHttpBufferSize: 64 * 1024,
    ...(config.api.corsOrigins.length === 0 ? {} : { cors: { origin: [...config.api.corsOrigins] } }),
    allowRequest: (request, callback) => callback(null, allowOrigin(request)),
    // Upgrades on other paths (the plain WebSocket's) may wait for a credential check longer than 1 s.
    destroyUpgradeTimeout: 10_000,
  });
  const verifyApiToken = async (token: string): Promise<CredentialVerdict> => {
    // The same checks as the API: a valid token of an account that still exists and is enabled.
    const claims = http.jwt.verify<{ sub?: unknown; exp?: unknown }>(token);
    const user = typeof claims.sub === 'string' ? await store.findUserById(claims.sub) : undefined;
    if (user === undefined || user.disabled) return false;
    return { expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null, account: user.id };
  };
  const live = createLiveHub({
    io,
    tickMs: config.live.tickMs,
    getStats: () => pipeline.stats(),
    metrics: metrics.live,
    sessions: liveSessions,
    ...liveAuthorization(config, verifyApiToken),
  });
  pipeline.addLiveSink(live.sink);
  // The same readings, authentication and caps for clients that speak plain WebSocket (/live/ws).
  const wsLive: WsLive = createWsLive({
    server: http.server,
    tickMs: config.live.tickMs,
    maxConnections: limits.maxConnectionsPerListener,
    allowOrigin,
    sessions: liveSessions,
    metrics: metrics.wsLive,
    onError: (error) => logger.warn({ err: (error as Error).message }, 'websocket live fan-out failed'),
    ...liveAuthorization(config, verifyApiToken),
  });
  pipeline.addLiveSink(wsLive.sink);

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

  // HTTP connections (API, ingest, dashboards' Socket.IO) are bounded like the TCP listeners'.
  const httpGuard = boundListener(http.server, {
    source: 'http',
    maxConnections: limits.maxConnectionsPerListener,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
    metrics: metrics.pipeline,
    guardMetrics: metrics.connectionGuard,
    logger,
  });
  guardHttpActivity(http.server, httpGuard);
  await http.listen({ host: config.host, port: config.httpPort });
  const httpPort = (http.server.address() as AddressInfo).port;
  const tcpPort = native === null ? null : await listen(native.server, config.host, config.tcpPort ?? 0);
  const legacyPort = legacy === null ? null : await listen(legacy.server, config.host, config.legacyPort ?? 0);
  const monitor =
    config.monitorPort === null
      ? null
      : buildMonitorApp({
          logger,
          store,
          metricsRegistry: metrics.registry,
          isReady: () => ready,
          requestTimeoutMs: limits.httpRequestTimeoutMs,
          ...(amqp === null && mqttIngest === null ? {} : { brokers }),
        });
  if (monitor !== null) await monitor.listen({ host: config.host, port: config.monitorPort ?? 0 });
  amqp?.start();
  const monitorPort = monitor === null ? null : (monitor.server.address() as AddressInfo).port;
  // Taking messages last: a broker down now is reconnected in the background (/healthz says degraded).
  mqttIngest?.start();
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
    mqtt: mqttIngest,
    ports: { http: httpPort, tcp: tcpPort, legacy: legacyPort, monitor: monitorPort },
    demoAdmin,
    wsLive,
    close() {
      closing ??= (async () => {
        ready = false;
        // Stop intake first, so everything accepted before this point is committed and answered.
        await Promise.all([native?.close(), legacy?.close(), amqp?.close(), mqttIngest?.close()]);
        await pipeline.close();
        await legacyPool?.close();
        live.close();
        await wsLive.close();
        await new Promise<void>((resolve) => void io.close(() => resolve()));
        await http.close().catch(() => undefined);
        await monitor?.close().catch(() => undefined);
        registry.stop();
        rollupFlusher.stop();
        await deadLetterPruner.stop();
        await store.close();
        await shared?.close();
      })();
      return closing;
    },
  };
}

/**
 * Who may open the live channel: anyone when it is public (the demo default, or opted into for the
 * seed's dashboard, which cannot authenticate); otherwise a valid API token (what the dashboard sends
 * after login) or the configured live token.
 */
function liveAuthorization<V extends CredentialVerdict>(
  config: HubConfig,
  verifyApiToken: (token: string) => Promise<V>,
): { authorize?: (token: string) => Promise<V | { expiresAt: null }> } {
  const liveToken = config.live.token;
  if (config.live.public && liveToken === undefined) return {};
  const expected = liveToken === undefined ? undefined : createHash('sha256').update(liveToken).digest();
  return {
    authorize: async (token) => {
      if (expected !== undefined && timingSafeEqual(createHash('sha256').update(token).digest(), expected)) {
        return { expiresAt: null };
      }
      return verifyApiToken(token);
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

function listen(server: NetServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** An outage retried until the deadline is a warning; a store that cannot commit until fixed is an error. */
function logCommitFailure(logger: Logger, error: unknown, attempt: number): void {
  const err = error instanceof Error ? error.message : String(error);
  const code = storeErrorCodeOf(error);
  if (code === 'store_unavailable')
    logger.warn({ err, code, attempt }, 'commit failed; retrying while the deadline allows');
  else if (code === 'store_refused_data')
    logger.warn({ err, code, attempt }, 'commit refused for its data; isolating the refused rows');
  else logger.error({ err, code, attempt }, 'commit failed and retrying cannot help; fix the store');
}
