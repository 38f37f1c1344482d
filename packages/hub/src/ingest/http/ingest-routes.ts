/**
 * HTTP ingest: sealed frames (POST /api/v1/ingest/frames), XRayIOT-style signed JSON
 * (POST /api/v1/ingest/signed) and InsightHub-style token JSON (POST /ingest, alias
 * /api/v1/ingest/readings). Same pipeline, same outcomes and same dead letters as TCP; answers only
 * after commit. Registered in their own encapsulated scope, whose body parsers keep the raw bytes
 * (signatures and dead letters need them) and accept only JSON and octet-stream bodies.
 */
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_READINGS_PER_FRAME } from '@sealstream/protocol';
import type { FastifyInstance } from 'fastify';
import type { KeyResolver } from '../../pipeline/keyring.js';
import { NonceWindow } from '../../pipeline/nonce-window.js';
import type { SharedReplayWindow, SharedWindowCounter } from '../../pipeline/shared-state-ports.js';
import { SharedIngestRateLimiter } from './shared-ingest-limiter.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { IngestContext } from './ingest-context.js';
import { registerFramesRoute } from './frames-route.js';
import { registerInsightHubRoutes } from './insighthub-route.js';
import { createIngestJwtVerifier } from './ingest-jwt.js';
import { IngestRateLimiter, type IngestLimiter, type IngestRateLimitSettings } from './ingest-rate-limiter.js';
import { registerSignedRoute, SIGNAL_BODY_LIMIT_BYTES } from './signed-route.js';
import { bodyReadRefusal, peerOf } from './ingest-replies.js';
import { IngestSockets } from '../../http/slow-requests.js';

export interface IngestRouteOptions {
  readonly pipeline: Pipeline;
  readonly keys: KeyResolver;
  readonly now?: () => number;
  /** Signed requests: accepted |x-timestamp - hub time|; default 300 000 ms (5 minutes). */
  readonly signatureToleranceMs?: number;
  /** Bound of the signed-request nonce window; when full, new signed requests get 503 (fail closed). */
  readonly nonceWindowMaxEntries?: number;
  /**
   * Live nonces one device may hold in that window; a device at it gets 429 (`ingest-device-nonces`) for
   * its new signed requests while other devices go on. Default 20 000 (about 66 signed requests/s kept up
   * for the whole tolerance).
   */
  readonly nonceWindowMaxPerDevice?: number;
  /** Signed-request nonces shared with other hubs (Redis); absent: the in-memory window is the whole check. */
  readonly sharedNonces?: SharedReplayWindow;
  /** Counts the per-device limits across hubs (Redis); absent: per hub. */
  readonly sharedRateLimit?: { readonly counter: SharedWindowCounter; readonly onFallback?: () => void };
  /** Requests per device id (JSON routes) or per key id (frames route) and window; null or absent: off. */
  readonly rateLimit?: IngestRateLimitSettings | null;
  /** Largest accepted request body; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /**
   * Largest body of the signed route, which carries XRayIOT signals of up to 1 MiB of payload; default
   * `bodyLimitBytes` when that is given (the operator's bound), else room for a whole signal.
   */
  readonly signedBodyLimitBytes?: number;
  /** Largest frame in a frames body; default 1 MiB (as on TCP). */
  readonly maxFrameBytes?: number;
  /** Frames in one frames-route body; default 1024 (more is 400 malformed_body). */
  readonly maxFramesPerRequest?: number;
  /** Readings per JSON request; default 10 000 (as per sealed frame). */
  readonly maxReadingsPerRequest?: number;
  /** Accept credentials holding XRayIOT's published default secret; only --demo sets it. Default false. */
  readonly allowDefaultSecret?: boolean;
  /** Whether XRayIOT signal summaries are stored (with their readings); default false. */
  readonly storeSignalSummaries?: boolean;
  /** Secret of the HS256 JWT bearers InsightHub's clients send to POST /ingest; absent: JWTs are refused. */
  readonly ingestJwtSecret?: string;
  /** JWT bearers may name any device a shared ('any') key speaks for (demo mode); default false. */
  readonly ingestJwtAllowsSharedKeys?: boolean;
}

export const DEFAULT_SIGNATURE_TOLERANCE_MS = 300_000;
export const DEFAULT_NONCE_WINDOW_MAX_ENTRIES = 1_000_000;
export const DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE = 20_000;
export const DEFAULT_INGEST_BODY_LIMIT_BYTES = 1_048_576;
export const DEFAULT_MAX_FRAMES_PER_REQUEST = 1024;

export function registerIngestRoutes(
  app: FastifyInstance,
  deps: IngestRouteOptions,
  sockets: IngestSockets = new IngestSockets(),
): void {
  const now = deps.now ?? Date.now;
  const signatureToleranceMs = deps.signatureToleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_INGEST_BODY_LIMIT_BYTES;
  const context: IngestContext = {
    pipeline: deps.pipeline,
    keys: deps.keys,
    now,
    signatureToleranceMs,
    nonces: new NonceWindow(
      signatureToleranceMs,
      deps.nonceWindowMaxEntries ?? DEFAULT_NONCE_WINDOW_MAX_ENTRIES,
      deps.nonceWindowMaxPerDevice ?? DEFAULT_NONCE_WINDOW_MAX_PER_DEVICE,
    ),
    sharedNonces: deps.sharedNonces ?? null,
    allowDefaultSecret: deps.allowDefaultSecret ?? false,
    storeSignalSummaries: deps.storeSignalSummaries ?? false,
    limiter: limiterOf(deps, now),
    bodyLimitBytes,
    signedBodyLimitBytes:
      deps.signedBodyLimitBytes ??
      (deps.bodyLimitBytes === undefined ? Math.max(bodyLimitBytes, SIGNAL_BODY_LIMIT_BYTES) : bodyLimitBytes),
    maxFrameBytes: deps.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxFramesPerRequest: deps.maxFramesPerRequest ?? DEFAULT_MAX_FRAMES_PER_REQUEST,
    maxReadingsPerRequest: deps.maxReadingsPerRequest ?? DEFAULT_MAX_READINGS_PER_FRAME,
    jwt:
      deps.ingestJwtSecret === undefined
        ? null
        : {
            verify: createIngestJwtVerifier(deps.ingestJwtSecret),
            allowSharedKeys: deps.ingestJwtAllowsSharedKeys ?? false,
          },
  };
  void app.register(async (scope) => {
    // Which sockets are inside an ingest request: a body that times out there is refused as request_timeout.
    scope.addHook('onRequest', async (request) => sockets.enter(request.raw.socket));
    scope.addHook('onResponse', async (request) => sockets.leave(request.raw.socket));
    scope.addHook('onRequestAbort', async (request) => sockets.leave(request.raw.socket));
    // Fastify refuses a body over the limit (or one it cannot read) before any handler runs, through the
    // app's error handler (413 / 400); count and dead-letter it here like every other ingest refusal.
    scope.addHook('onError', async (request, _reply, error) => {
      const refusal = bodyReadRefusal(error, bodyLimitBytes);
      if (refusal !== null) deps.pipeline.refuse({ ...refusal, source: 'http', peer: peerOf(request), device: null });
    });
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      ['application/json', 'application/octet-stream'],
      { parseAs: 'buffer', bodyLimit: bodyLimitBytes },
      (_request, body, done) => done(null, body),
    );
    registerFramesRoute(scope, context);
    registerSignedRoute(scope, context);
    registerInsightHubRoutes(scope, context);
  });
}

/** The per-sender limiter: none, this hub's own, or counted across hubs with this hub's as the fallback. */
function limiterOf(deps: IngestRouteOptions, now: () => number): IngestLimiter | null {
  if (deps.rateLimit == null) return null;
  const local = new IngestRateLimiter(deps.rateLimit, now);
  const shared = deps.sharedRateLimit;
  if (shared === undefined) return local;
  return new SharedIngestRateLimiter(deps.rateLimit, shared.counter, local, shared.onFallback);
}
