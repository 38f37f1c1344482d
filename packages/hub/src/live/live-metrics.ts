/**
 * What the live fan-out reports about itself. observability/metrics.ts implements it with prom-client;
 * the live layer only sees this interface.
 */

/**
 * Which stream a per-client cap or a skipped slow client cost: v2 readings, v2 rejects, legacy messages,
 * readings on the plain WebSocket.
 */
export type LiveDropKind = 'readings' | 'rejects' | 'legacy' | 'ws';

export interface LiveMetrics {
  /** Connected live clients right now (gauge). */
  clients(count: number): void;
  /** Items a client should have received but did not (per-tick caps, or skipped because it was slow). */
  dropped(kind: LiveDropKind, count: number): void;
  /** Packets handed to client transports. */
  emitted(packets: number): void;
  /** A malformed or over-limit subscribe/unsubscribe request that was ignored. */
  invalidRequest(): void;
  /**
   * A data send went out `seconds` after the oldest commit it carries: what the fan-out adds to a
   * reading's way to a dashboard (waiting for the send budget or the tick, see live-hub.ts).
   */
  sendDelay?(seconds: number): void;
}

export const noopLiveMetrics: LiveMetrics = {
  clients: () => undefined,
  dropped: () => undefined,
  emitted: () => undefined,
  invalidRequest: () => undefined,
};
