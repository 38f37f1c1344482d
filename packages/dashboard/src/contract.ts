/**
 * The wire shapes the dashboard reads: the live Socket.IO contract re-exported from the protocol
 * package (types only — no runtime code crosses into the browser bundle) plus the REST payloads.
 */
import type { LiveReject, OVERVIEW_ROOM } from '@sealstream/protocol';

export type {
  ClientToServerEvents,
  LiveHandshakeAuth,
  LiveReading,
  LiveReadingBatch,
  LiveReject,
  LiveRejectBatch,
  LiveStats,
  ServerToClientEvents,
} from '@sealstream/protocol';

/** The reason-code union from the protocol catalogue, reached through the contract it types. */
export type ReasonCode = LiveReject['reason'];

/**
 * The overview room name. Declared against the contract constant's literal type, so a rename in
 * the protocol fails the dashboard type check instead of silently routing nothing.
 */
export const OVERVIEW: typeof OVERVIEW_ROOM = 'overview';

/** One row of GET /api/v1/dead-letters. */
export interface DeadLetterItem {
  readonly id: string;
  readonly reason: string;
  readonly source: string;
  readonly peer: string;
  readonly device: string | null;
  readonly detail: string;
  readonly receivedAt: number;
  /** First 256 bytes of the refused input, hex. */
  readonly rawHex: string;
  readonly truncated: boolean;
  /** Set once an operator re-drove it (newer hubs only). */
  readonly redrivenAt?: number | null;
  readonly redriveOutcome?: 'accepted' | 'duplicate' | 'refused' | null;
}

export interface DeadLetterPage {
  readonly items: readonly DeadLetterItem[];
}
