/**
 * The live layer of a process that serves dashboards (role `all` or `api`): Socket.IO (v2 rooms and
 * the seed's `message:new` / `stats:update`) and the plain WebSocket at /live/ws, both on the HTTP
 * server, both fed through their sinks (by the pipeline in one process, by the bus's commit notices
 * on an api node). Also who may open them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Server as SocketServer } from 'socket.io';
import type { ClientToServerEvents, LiveStats, ServerToClientEvents } from '@sealstream/protocol';
import type { HubConfig } from '../../config/hub-config.js';
import type { AccountStore } from '../../http/api-ports.js';
import type { CredentialVerdict } from '../../live/handshake-auth.js';
import { createLiveHub, createWsLive, originCheck, type LiveSessions, type WsLive } from '../../live/index.js';
import type { HubMetrics } from '../../observability/metrics.js';
import type { LiveSink } from '../../pipeline/ports.js';

export interface LiveParts {
  readonly config: HubConfig;
  readonly http: FastifyInstance;
  readonly accounts: Pick<AccountStore, 'findUserById'>;
  readonly stats: () => LiveStats;
  readonly metrics: HubMetrics;
  readonly sessions: LiveSessions;
  readonly logger: Logger;
}

export interface LiveLayer {
  /** Where committed readings and rejects go (both transports). */
  readonly sinks: readonly LiveSink[];
  readonly wsLive: WsLive;
  close(): Promise<void>;
}

export function createLiveLayer(parts: LiveParts): LiveLayer {
  const { config, http, logger, metrics } = parts;
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
    const user = typeof claims.sub === 'string' ? await parts.accounts.findUserById(claims.sub) : undefined;
    if (user === undefined || user.disabled) return false;
    return { expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null, account: user.id };
  };
  const live = createLiveHub({
    io,
    tickMs: config.live.tickMs,
    getStats: parts.stats,
    metrics: metrics.live,
    sessions: parts.sessions,
    ...liveAuthorization(config, verifyApiToken),
  });
  // The same readings, authentication and caps for clients that speak plain WebSocket (/live/ws).
  const wsLive: WsLive = createWsLive({
    server: http.server,
    tickMs: config.live.tickMs,
    maxConnections: config.limits.maxConnectionsPerListener,
    allowOrigin,
    sessions: parts.sessions,
    metrics: metrics.wsLive,
    onError: (error) => logger.warn({ err: (error as Error).message }, 'websocket live fan-out failed'),
    ...liveAuthorization(config, verifyApiToken),
  });
  return {
    sinks: [live.sink, wsLive.sink],
    wsLive,
    async close() {
      live.close();
      await wsLive.close();
      await new Promise<void>((resolve) => void io.close(() => resolve()));
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
