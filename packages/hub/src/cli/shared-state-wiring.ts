/**
 * Wires the Redis implementations of the shared-state ports (--redis-url): one connection, the replay
 * windows (native IVs, legacy IVs, the nonces of each signed door), the API's counters and the export
 * tickets. Each window's TTL is the longest time its input can still pass the hub's other checks, so a
 * key never outlives its use and every key expires. A Redis that is down at start is logged, not fatal:
 * the hub starts, refuses replay-sensitive input `state_unavailable`, and recovers when Redis answers.
 */
import type { Logger } from 'pino';
import type { HubConfig } from '../config/hub-config.js';
import type { HttpAppOptions } from '../http/http-app.js';
import type { IngestRouteOptions } from '../ingest/http/ingest-routes.js';
import type { PipelineOptions } from '../pipeline/pipeline.js';
import type { SharedReplayWindow } from '../pipeline/shared-state-ports.js';
import { RedisReplayWindow } from '../shared-state/redis-replay-window.js';
import { RedisState } from '../shared-state/redis-state.js';
import { RedisTicketStore } from '../shared-state/redis-ticket-store.js';
import { RedisWindowCounter } from '../shared-state/redis-window-counter.js';

/** How long a legacy IV is remembered, here and in memory (legacy tokens carry no time to bound a replay by). */
export const LEGACY_REPLAY_WINDOW_MS = 3_600_000;

/** Longest a Redis command may take before the input waiting on it is refused `state_unavailable`. */
const COMMAND_TIMEOUT_MS = 1_000;
/** At most one log line per this long about Redis errors or local rate-limit fallbacks. */
const LOG_EVERY_MS = 10_000;

export interface SharedStateWindows {
  /** Native frames: accepted within this skew of their sent-at time, so an IV matters for twice it. */
  readonly maxClockSkewMs: number;
  /** Signed requests: accepted within this tolerance of their timestamp, so a nonce matters for twice it. */
  readonly signatureToleranceMs: number;
  /** Legacy tokens carry no time: their IVs are remembered this long (as in the local window). */
  readonly legacyReplayWindowMs: number;
}

export interface SharedStateWiring {
  /** The one Redis connection (the cluster heartbeats use it too). */
  readonly state: RedisState;
  readonly pipeline: NonNullable<PipelineOptions['shared']>;
  readonly nonces: {
    readonly http: SharedReplayWindow;
    readonly mqtt: SharedReplayWindow;
    readonly amqp: SharedReplayWindow;
  };
  readonly http: NonNullable<HttpAppOptions['shared']>;
  readonly ingestRateLimit: NonNullable<IngestRouteOptions['sharedRateLimit']>;
  close(): Promise<void>;
}

/** The windows' lengths from the hub's own checks. */
export function sharedWindows(config: HubConfig): SharedStateWindows {
  return {
    maxClockSkewMs: config.limits.maxClockSkewMs,
    signatureToleranceMs: config.ingest.signatureToleranceMs,
    legacyReplayWindowMs: LEGACY_REPLAY_WINDOW_MS,
  };
}

export async function openSharedState(
  redis: { readonly url: string; readonly keyPrefix: string },
  windows: SharedStateWindows,
  logger: Logger,
): Promise<SharedStateWiring> {
  const throttled = (message: string): ((detail?: string) => void) => {
    let last = 0;
    return (detail) => {
      if (Date.now() - last < LOG_EVERY_MS) return;
      last = Date.now();
      logger.warn(detail === undefined ? {} : { err: detail }, message);
    };
  };
  const redisError = throttled('shared state (Redis) error; replay-sensitive input is refused while it lasts');
  const state = new RedisState({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    // Only the message: the URL may carry a password, and ioredis errors do not.
    onError: (error) => redisError(error.message),
  });
  await state.connect().catch((error: unknown) => {
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'shared state (Redis) unreachable at start; retrying in the background, replay-sensitive input is refused until it answers',
    );
  });
  const nonceMs = 2 * windows.signatureToleranceMs;
  return {
    state,
    pipeline: {
      frameIvs: new RedisReplayWindow(state, 'iv', 2 * windows.maxClockSkewMs),
      legacyIvs: new RedisReplayWindow(state, 'iv16', windows.legacyReplayWindowMs),
    },
    // One window per door, as in memory: XRayIOT's HTTP and AMQP doors never see each other's nonces.
    nonces: {
      http: new RedisReplayWindow(state, 'nonce-http', nonceMs),
      mqtt: new RedisReplayWindow(state, 'nonce-mqtt', nonceMs),
      amqp: new RedisReplayWindow(state, 'nonce-amqp', nonceMs),
    },
    http: {
      rateCounter: new RedisWindowCounter(state, 'rl'),
      authFailures: new RedisWindowCounter(state, 'auth-fail'),
      tickets: new RedisTicketStore(state),
      onRateLimitFallback: throttled('shared rate counter unavailable; API limits are counted per node meanwhile'),
    },
    ingestRateLimit: {
      counter: new RedisWindowCounter(state, 'rl-ingest'),
      onFallback: throttled('shared rate counter unavailable; ingest limits are counted per node meanwhile'),
    },
    close: () => state.close(),
  };
}
