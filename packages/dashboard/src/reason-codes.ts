/**
 * The reason codes a dead letter can carry, for the dead-letters filter: read from the protocol
 * package's catalogue (packages/protocol/src/reasons.ts) instead of a hand-kept copy, so a reason added
 * there is offered here without anyone remembering to. That catalogue is plain data with no imports,
 * so bundling it costs the page a few hundred bytes and pulls in no codec. The `hub` scope is left out:
 * overloaded / store_unavailable / shutting_down answer a sender "try again", they are never stored.
 */
import { REASONS, type ReasonInfo } from '../../protocol/src/reasons.js';

export interface ReasonOption {
  readonly reason: string;
  readonly scope: ReasonInfo['scope'];
  readonly description: string;
}

/** Ordered by wire code, which groups them by scope (stream, frame, reading, legacy, request). */
export const DEAD_LETTER_REASONS: readonly ReasonOption[] = Object.entries(REASONS as Record<string, ReasonInfo>)
  .filter(([, info]) => info.scope !== 'hub')
  .sort(([, a], [, b]) => a.code - b.code)
  .map(([reason, info]) => ({ reason, scope: info.scope, description: info.description }));
