/**
 * The hub's HTTP face: health, Prometheus metrics, the REST API under /api/v1 (TypeBox schemas that
 * validate requests and generate the OpenAPI document at /openapi.json, browsable at /docs), and the
 * built dashboard as static files. Built, not listened: the app decides the port, and attaches
 * Socket.IO to `app.server`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { LiveStats } from '@sealstream/protocol';
import type { ReadingStore } from '../pipeline/ports.js';
import { answerNoSuchRoute, installErrorHandlers } from './api-errors.js';
import { refuseUnstorableInput } from './storable-input.js';
import type { AccountStore, LiveSessionControl, QueryStore } from './api-ports.js';
import { API_PREFIX, ErrorBody } from './api-schemas.js';
import { bearerSubject, registerAuth, registerTokens, type Authorizer } from './auth.js';
import { registerDeadLetterRoutes } from './dead-letter-routes.js';
import { registerExportRoutes } from './export-routes.js';
import { registerExportTicketRoutes } from './export-ticket-routes.js';
import type { SharedTicketStore, SharedWindowCounter } from '../pipeline/shared-state-ports.js';
import { ExportTickets, type ExportTicketOptions } from './export-tickets.js';
import { registerQueryRoutes } from './query-routes.js';
import { registerRateLimits, type RateLimitSettings } from './rate-limits.js';
import { RequestLogController, requestLogView } from './request-log.js';
import type { RatePoint } from '../pipeline/stats-tracker.js';
import { registerStatsRoutes } from './stats-routes.js';
import { registerUserRoutes } from './user-routes.js';
import type { ApiKeys } from '../registry/api-keys.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import { registerApiKeyRoutes } from './api-key-routes.js';
import { bodyTimeoutRefusal } from '../ingest/http/ingest-replies.js';
import { registerIngestRoutes, type IngestRouteOptions } from '../ingest/http/ingest-routes.js';
import { metricsExposition, readiness, type MonitorSources } from './monitor-app.js';
import { registerXraySignalRoutes, type SignalQueryStore } from './xray-signal-routes.js';
import { registerRedriveRoutes, type RedriveDeps } from './redrive-routes.js';
import { registerRegistryRoutes } from './registry-routes.js';
import {
  IngestSockets,
  createClientErrorHandler,
  requestDeadlineOptions,
  type ClientErrorKind,
} from './slow-requests.js';

/** Who answers /healthz: role(s), instance, and its dependencies (postgres, bus, redis: up or down). */
const HEALTH_IDENTITY = {
  role: Type.Optional(Type.String({ description: 'all, or the roles of this process (gateway,writer,api)' })),
  instance: Type.Optional(Type.String()),
  deps: Type.Optional(Type.Record(Type.String(), Type.String({ description: 'up or down' }))),
};

/** The request ids a client may choose (x-request-id); anything else gets an id of the hub's. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The docs page's own policy (Swagger UI replaces helmet's on its routes). Its default (`staticCSP: true`)
 * carried `upgrade-insecure-requests`, which makes browsers fetch the page's assets over https and
 * blanks the docs of a hub reached over plain HTTP by address, and refused the styles Swagger UI sets
 * inline. Scripts stay self-only: the page has no inline script.
 */
const SWAGGER_UI_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self' data:",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
].join('; ');

export interface HttpAppOptions {
  /** A pino logger; typed as Fastify's base logger so the app's generic stays the default. */
  readonly logger: FastifyBaseLogger;
  readonly store: ReadingStore;
  readonly accounts: AccountStore;
  readonly queries: QueryStore;
  readonly stats: () => LiveStats;
  /** The stats' rates once a second over the last five minutes (GET /api/v1/stats/rates). */
  readonly rateHistory?: () => readonly RatePoint[];
  readonly metricsRegistry: Registry;
  /** HS256 signing secret for API tokens, at least 32 bytes. */
  readonly jwtSecret: string;
  readonly tokenTtlSeconds?: number;
  /** How long token refreshes may extend one sign-in (default 12 h). */
  readonly maxSessionSeconds?: number;
  /** Per-process request limits on the API plugin's routes; null turns them off (tests of other behaviour only). */
  readonly rateLimits: RateLimitSettings | null;
  /**
   * Demo mode: GET /api/v1/stats and GET /api/v1/dead-letters answer without a token, because the
   * dashboard has no login yet. Never outside demo mode.
   */
  readonly openDashboardReads?: boolean;
  /** Folder of the built dashboard; when missing, `/` explains how to build it. */
  readonly dashboardDir: string | undefined;
  /** False until the hub has migrated and its listeners are up, and again while it shuts down. */
  readonly isReady: () => boolean;
  /** See MonitorSources.brokers: /healthz says `degraded` while one is down. */
  readonly brokers?: () => Readonly<Record<string, 'connected' | 'down'>>;
  /** See MonitorSources.identity and .dependencies: who answers /healthz, and the bus and Redis states. */
  readonly identity?: MonitorSources['identity'];
  readonly dependencies?: MonitorSources['dependencies'];
  /** XRayIOT signal summaries for GET /api/v1/xray/signals; absent: no such route. */
  readonly signals?: SignalQueryStore;
  readonly bodyLimitBytes?: number;
  /**
   * Longest a client may take to send one request, headers and body (slow senders); default 30 000 ms.
   * Answered 408 and closed; an ingest request cut short is also refused as `request_timeout`.
   */
  readonly requestTimeoutMs?: number;
  /** Told about every request broken before a route saw it (timeouts, oversized headers, not HTTP). */
  readonly onClientError?: (kind: ClientErrorKind) => void;
  /** Told about every route as it is registered (tests check each one is in the OpenAPI document). */
  readonly onRoute?: (route: RouteOptions) => void;
  readonly version?: string;
  /** Device registry, API keys and dead-letter re-drive; absent in apps that only read. */
  readonly admin?: {
    readonly devices: DeviceRegistry;
    readonly apiKeys: ApiKeys;
    readonly redrive: RedriveDeps;
  };
  /** HTTP ingest (sealed frames, signed JSON, InsightHub `POST /ingest`); absent: no ingest routes. */
  readonly ingest?: IngestRouteOptions;
  /** Origins allowed to call the API from a browser; empty: same origin only (no CORS headers). */
  readonly corsOrigins?: readonly string[];
  /** Bounds and lifetime of export download tickets (defaults in export-tickets.ts). */
  readonly exportTickets?: ExportTicketOptions;
  /**
   * State shared with other hubs (Redis): the API's rate limits, the API-key failure budget and export
   * tickets hold across nodes. Absent: all of it lives in this process.
   */
  readonly shared?: {
    readonly rateCounter: SharedWindowCounter;
    readonly authFailures: SharedWindowCounter;
    readonly tickets: SharedTicketStore;
    /** Told when a rate limit is counted locally because the shared counter is away. */
    readonly onRateLimitFallback?: () => void;
  };
  /** Ends an account's live connections when it is disabled; absent: no live layer to tell. */
  readonly liveSessions?: LiveSessionControl;
  /**
   * False on a gateway process: no REST API, tokens or dashboard, only ingest, /healthz and /metrics
   * (default true).
   */
  readonly serveApi?: boolean;
  /** Extra API routes registered inside the API scope (its auth and limits), e.g. the cluster view. */
  readonly extraApiRoutes?: (api: FastifyInstance, auth: Authorizer) => void;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const ingestSockets = new IngestSockets();
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    ...requestDeadlineOptions(requestTimeoutMs),
    clientErrorHandler: createClientErrorHandler({
      ingestSockets,
      onClientError: (kind, socket, duringIngest) => {
        options.onClientError?.(kind);
        if (duringIngest && kind === 'request_timeout') {
          options.ingest?.pipeline.refuse(bodyTimeoutRefusal(socket, requestTimeoutMs));
        }
      },
    }),
    // The request view in every log line redacts credentials that travel in URLs (export tickets).
    loggerInstance: options.logger.child({}, { serializers: { req: requestLogView } }),
    logController: new RequestLogController(),
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    // A client's x-request-id is kept for tracing only when it looks like an id: it lands in every log line
    // of the request and in error answers, and a sender must not choose arbitrary text there.
    requestIdHeader: false,
    genReqId: (request) => {
      const sent = request.headers['x-request-id'];
      return typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  if (options.onRoute !== undefined) app.addHook('onRoute', options.onRoute);
  installErrorHandlers(app);
  // Before any route's schema: text PostgreSQL cannot store is the request's fault (400), not an outage.
  app.addHook('preValidation', refuseUnstorableInput);
  // Echo the request id so a client can quote it, and an internal_error can be found in the log.
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addSchema(ErrorBody);
  // Security headers on every answer (CSP, no sniffing, frame denial, HSTS when served over TLS).
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        // The dashboard's live channel is a same-origin WebSocket; uPlot draws on canvas.
        'connect-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        // helmet's default would make browsers fetch every asset over https, which blanks the dashboard
        // of a hub reached over plain HTTP by address; TLS is the deployment's choice, not ours.
        'upgrade-insecure-requests': null,
      },
    },
  });
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST', 'PATCH'],
      allowedHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id'],
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    });
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Sealstream hub API',
        version: options.version ?? '0.1.0',
        description: 'REST API of the Sealstream hub. Errors: `{ error: { code, message, details? } }`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or ssk_ API key' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: SWAGGER_UI_CSP });

  app.get('/openapi.json', { schema: { tags: ['meta'], summary: 'This API as an OpenAPI 3 document' } }, async () =>
    app.swagger(),
  );

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Readiness: 200 when listening and the store answers, else 503',
        response: {
          200: Type.Object({
            status: Type.String({
              description: 'ok, or degraded when a broker the hub consumes from, the bus or Redis is down',
            }),
            store: Type.String(),
            brokers: Type.Optional(Type.Record(Type.String(), Type.String())),
            ...HEALTH_IDENTITY,
          }),
          503: Type.Object({ status: Type.String(), store: Type.Optional(Type.String()), ...HEALTH_IDENTITY }),
        },
      },
    },
    readiness(options),
  );

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } },
    metricsExposition(options),
  );

  if (options.serveApi !== false) {
    // Tokens are app-wide (the live layer verifies the same JWTs); everything else of the API is one
    // encapsulated plugin under /api/v1, so its rate limits and auth hooks apply to exactly its routes.
    await registerTokens(app, options);
    await app.register(
      async (api) => {
        if (options.rateLimits !== null) {
          const shared = options.shared;
          await registerRateLimits(
            api,
            options.rateLimits,
            (request) => bearerSubject(api, request),
            shared === undefined
              ? undefined
              : {
                  counter: shared.rateCounter,
                  ...(shared.onRateLimitFallback === undefined ? {} : { onFallback: shared.onRateLimitFallback }),
                },
          );
        }
        // Unknown paths under /api/v1 are answered inside the scope, so probing them spends the limits too.
        api.setNotFoundHandler(answerNoSuchRoute);
        const auth = await registerAuth(api, {
          accounts: options.accounts,
          ...(options.admin === undefined ? {} : { apiKeys: options.admin.apiKeys }),
          jwtSecret: options.jwtSecret,
          ...(options.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: options.tokenTtlSeconds }),
          ...(options.maxSessionSeconds === undefined ? {} : { maxSessionSeconds: options.maxSessionSeconds }),
          ...(options.shared === undefined ? {} : { sharedFailures: options.shared.authFailures }),
        });
        const dashboardRead = auth.require('viewer', { open: options.openDashboardReads === true });
        registerStatsRoutes(api, options.stats, dashboardRead, options.rateHistory);
        registerDeadLetterRoutes(api, options.queries, dashboardRead);
        registerQueryRoutes(api, options.queries, auth.require('viewer'));
        registerExportRoutes(api, options.queries, auth.require('viewer'));
        registerExportTicketRoutes(api, {
          store: options.queries,
          accounts: options.accounts,
          auth,
          tickets: new ExportTickets({
            ...options.exportTickets,
            ...(options.shared === undefined ? {} : { shared: options.shared.tickets }),
          }),
        });
        registerUserRoutes(api, options.accounts, auth, options.liveSessions);
        if (options.signals !== undefined) registerXraySignalRoutes(api, options.signals, auth.require('viewer'));
        if (options.admin !== undefined) {
          const roles = { read: auth.require('viewer'), manage: auth.require('operator') };
          registerRegistryRoutes(api, options.admin.devices, roles);
          registerApiKeyRoutes(api, options.admin.apiKeys, auth.require('admin'));
          registerRedriveRoutes(api, options.admin.redrive, roles);
        }
        options.extraApiRoutes?.(api, auth);
      },
      { prefix: API_PREFIX },
    );
  }
  // Ingest (device traffic, full paths incl. InsightHub's /ingest) is a sibling scope with its own
  // per-device limits and body parsers: the API plugin's limiter and auth hooks never see it.
  if (options.ingest !== undefined) registerIngestRoutes(app, options.ingest, ingestSockets);

  if (options.serveApi === false) return app;
  if (options.dashboardDir !== undefined && existsSync(options.dashboardDir)) {
    await app.register(fastifyStatic, {
      root: options.dashboardDir,
      prefix: '/',
      // Source maps give away the dashboard's whole source (megabytes): never served, even when a
      // development build left them in the folder (the Vite dev server serves its own).
      allowedPath: (pathName) => !/\.map$/i.test(pathName),
    });
  } else {
    app.get(
      '/',
      { schema: { tags: ['meta'], summary: 'The dashboard, or a note on how to build it' } },
      async (_request, reply) =>
        reply
          .type('text/plain')
          .send('Sealstream hub is running. The dashboard is not built: run `npm run build` and restart.\n'),
    );
  }
  return app;
}
