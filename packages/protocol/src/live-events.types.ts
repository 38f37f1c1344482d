/**
 * The live channel contract (Socket.IO event names and payloads) between the hub and dashboards.
 * Types only, so the dashboard can import it without pulling in any codec.
 */
import type { ReasonCode } from './reasons.js';

/** A committed reading as broadcast live. */
export interface LiveReading {
  readonly device: string;
  readonly seq: number;
  /** Device creation time, ms since epoch. */
  readonly ts: number;
  /** Hub commit time, ms since epoch. */
  readonly committedAt: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A refused input as broadcast live (no raw bytes; those stay in the dead-letter store). */
export interface LiveReject {
  readonly reason: ReasonCode;
  readonly source: string;
  readonly device: string | null;
  readonly detail: string;
  readonly at: number;
}

export interface LiveStats {
  readonly totalReceived: number;
  readonly totalValid: number;
  readonly totalInvalid: number;
  readonly totalDuplicate: number;
  /** totalValid / totalReceived as a percentage with two decimals; 100 when nothing was received. */
  readonly successRate: number;
  /** Committed readings per second over the last few seconds. */
  readonly readingsPerSec: number;
  readonly rejectsPerSec: number;
  readonly rejectsByReason: Readonly<Partial<Record<ReasonCode, number>>>;
  readonly at: number;
}

/** One coalesced tick of readings for a room; `dropped` counts what the per-client cap discarded. */
export interface LiveReadingBatch {
  readonly room: string;
  readonly readings: readonly LiveReading[];
  readonly dropped: number;
}

export interface LiveRejectBatch {
  readonly rejects: readonly LiveReject[];
  readonly dropped: number;
}

/** Seed dashboard event payloads, kept byte-for-byte in shape. */
export interface LegacyMessageNew {
  readonly name: string;
  readonly origin: string;
  readonly destination: string;
  /** ISO-8601 time the hub received the message. */
  readonly receivedAt: string;
}

export interface LegacyStatsUpdate {
  readonly totalReceived: number;
  readonly totalValid: number;
  readonly totalInvalid: number;
  readonly successRate: number;
}

export interface ServerToClientEvents {
  readings: (batch: LiveReadingBatch) => void;
  rejects: (batch: LiveRejectBatch) => void;
  stats: (stats: LiveStats) => void;
  'message:new': (message: LegacyMessageNew) => void;
  'stats:update': (stats: LegacyStatsUpdate) => void;
}

export interface SubscribeRequest {
  /** Device ids whose every reading this client wants (each capped per tick). */
  readonly devices?: readonly string[];
}

export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest) => void;
  unsubscribe: (request: SubscribeRequest) => void;
}

/**
 * Handshake `auth` a current dashboard sends. A client that sends no `protocol` is treated as the
 * seed dashboard and receives `message:new` / `stats:update`.
 */
export interface LiveHandshakeAuth {
  readonly protocol?: 2;
  readonly token?: string;
}

/** Room every v2 client joins; it receives a per-tick sample of all devices (latest per device). */
export const OVERVIEW_ROOM = 'overview';
export const deviceRoom = (device: string): string => `device:${device}`;
