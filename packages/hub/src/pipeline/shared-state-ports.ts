/**
 * Ports for the state several hubs must share (replay and nonce windows, request counters, single-use
 * tickets) and the one error their implementations fail with. The pipeline, the ingest doors and the
 * API drive these; shared-state/ implements them over Redis. Without shared state (one hub, the
 * default) nothing here is used: the in-memory windows, limiters and tickets are the whole truth.
 *
 * Every method may reject with StateUnavailableError: the shared store could not answer, so the caller
 * must fail closed (refuse `state_unavailable`), never treat the input as checked.
 */
import { SealstreamError } from '@sealstream/protocol';

/** The shared store could not answer in time (down, unreachable, out of memory). Retrying later can help. */
export class StateUnavailableError extends SealstreamError {
  declare readonly code: 'state_unavailable';

  constructor(detail: string) {
    super('state_unavailable', `shared state unavailable: ${detail}`, true);
    this.name = 'StateUnavailableError';
  }
}

export function isStateUnavailable(error: unknown): error is StateUnavailableError {
  return error instanceof StateUnavailableError;
}

/**
 * A replay window shared by every hub: an id (an IV, a nonce) is a first sighting on exactly one hub,
 * however many receive copies. Only authentic input may be offered, so forgeries cannot fill it.
 */
export interface SharedReplayWindow {
  /** One answer per id, in order: true the first time any hub offered it within the window. */
  firstSightings(ids: readonly string[]): Promise<boolean[]>;
  /** Forgets ids whose input was not committed after all, so a resend of the same bytes is not a replay. */
  forget(ids: readonly string[]): Promise<void>;
}

/** A count in a fixed window per key, shared by every hub (rate limits, failure budgets). */
export interface SharedWindowCounter {
  /** Adds `by` (default 1) to `key`'s count; the first hit of a window starts it. */
  hit(key: string, windowMs: number, by?: number): Promise<WindowCount>;
  /** The count and time left, without counting. */
  read(key: string): Promise<WindowCount>;
  /** Adds `cost` only if the count stays within `max`; `allowed` says whether it did. */
  take(key: string, windowMs: number, cost: number, max: number): Promise<WindowCount & { readonly allowed: boolean }>;
}

export interface WindowCount {
  readonly count: number;
  /** Milliseconds until the window resets; 0 when none is open. */
  readonly resetInMs: number;
}

/**
 * Single-use tickets shared by every hub: issued on one, redeemed once on any. Stored under a hash of
 * the ticket (the caller passes the digest), so the store never holds a usable ticket.
 */
export interface SharedTicketStore {
  /** Keeps `payload` under `digest` for `ttlMs`; false when `owner` or the store is at its bound. */
  put(digest: string, owner: string, payload: string, ttlMs: number, bounds: TicketBounds): Promise<boolean>;
  /** Takes the ticket out (atomically: one redemption across all hubs); undefined when unknown or expired. */
  take(digest: string): Promise<{ readonly owner: string; readonly payload: string } | undefined>;
}

export interface TicketBounds {
  /** Outstanding tickets per owner; beyond it the owner's oldest is evicted. */
  readonly maxPerOwner: number;
  /** Outstanding tickets in all; beyond it a new ticket is refused. */
  readonly maxOutstanding: number;
}
