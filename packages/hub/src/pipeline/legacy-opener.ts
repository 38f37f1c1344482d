/**
 * Turns the tokens of one legacy `DATA:` line into verified readings and refusals.
 *
 * Legacy messages carry no device id or sequence number, so the hub assigns them: every legacy message
 * belongs to the configured legacy device, its sequence number is taken from the first 53 bits of its
 * random IV (unique per message with overwhelming probability), and its timestamp is the receive time.
 * A repeated IV is a replay of a captured token and is refused.
 */
import { openLegacyToken, type LegacyHashVariant, type ReasonCode } from '@sealstream/protocol';
import type { IvReplayWindow } from './iv-replay-window.js';
import type { VerifiedReading } from './ports.js';

export interface LegacyOpenerOptions {
  readonly key: Buffer;
  readonly device: string;
  readonly acceptVariants: readonly LegacyHashVariant[];
  readonly ivWindow: IvReplayWindow;
  readonly now?: () => number;
}

export interface TokenRefusal {
  readonly reason: ReasonCode;
  readonly detail: string;
  readonly raw: Uint8Array;
}

export interface LegacyLineOutcome {
  readonly readings: VerifiedReading[];
  readonly refused: TokenRefusal[];
}

export class LegacyOpener {
  private readonly now: () => number;

  constructor(private readonly options: LegacyOpenerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** `redrive` skips the IV window: an operator re-driving a dead letter; the IV-derived seq keeps it idempotent. */
  openLine(tokens: readonly string[], mode: 'live' | 'redrive' = 'live'): LegacyLineOutcome {
    const receivedAt = this.now();
    const readings: VerifiedReading[] = [];
    const refused: TokenRefusal[] = [];
    for (const token of tokens) {
      const opened = openLegacyToken(token, this.options.key, this.options.acceptVariants);
      if (!opened.ok) {
        refused.push({ reason: opened.reason, detail: opened.detail, raw: Buffer.from(token, 'latin1') });
        continue;
      }
      // Checked after integrity so a forged token cannot occupy a slot in the window.
      if (mode === 'live' && !this.options.ivWindow.firstSighting(opened.ivHex)) {
        refused.push({
          reason: 'legacy_replayed_token',
          detail: 'a token with this IV was already received',
          raw: Buffer.from(token, 'latin1'),
        });
        continue;
      }
      const { name, origin, destination } = opened.message;
      readings.push({
        device: this.options.device,
        seq: seqFromIv(opened.ivHex),
        ts: receivedAt,
        data: { name, origin, destination },
        source: 'legacy',
        receivedAt,
      });
    }
    return { readings, refused };
  }
}

/** First 53 bits of the IV as a safe integer. */
export function seqFromIv(ivHex: string): number {
  const high = Number.parseInt(ivHex.slice(0, 8), 16); // 32 bits
  const low = Number.parseInt(ivHex.slice(8, 14), 16) >>> 3; // 21 of the next 24 bits
  return high * 2 ** 21 + low;
}
