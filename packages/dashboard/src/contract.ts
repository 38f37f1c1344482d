/**
 * The wire shapes the dashboard reads: the live Socket.IO contract re-exported from the protocol
 * package and the REST payloads derived from the REST contract (packages/contract), types only — no
 * runtime code crosses into the browser bundle.
 */
import type { DeadLetterItem as WireDeadLetterItem } from '@sealstream/contract';
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

/**
 * One row of GET /api/v1/dead-letters: the REST contract's `DeadLetterItem`; the re-drive fields may be
 * absent (hubs before re-drive).
 */
export type DeadLetterItem = Readonly<
  Omit<WireDeadLetterItem, 'redrivenAt' | 'redriveOutcome'> &
    Partial<Pick<WireDeadLetterItem, 'redrivenAt' | 'redriveOutcome'>>
>;

export interface DeadLetterPage {
  readonly items: readonly DeadLetterItem[];
}
