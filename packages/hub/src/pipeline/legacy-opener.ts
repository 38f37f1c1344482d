/**
 * Turns the tokens of one legacy `DATA:` line into verified readings and refusals.
 *
 * Legacy messages carry no device id or sequence number, so the hub assigns them: every legacy message
 * belongs to the configured legacy device, its sequence number is taken from the first 53 bits of its
 * random IV (unique per message with overwhelming probability), and its timestamp is the receive time.
 * A repeated IV is a replay of a captured token and is refused.
 */
import { isStorableText, openLegacyTokens, type LegacyHashVariant, type ReasonCode } from '@sealstream/protocol';
import type { LegacyOpenJob, OpenedLegacyTokens } from './legacy-open-job.js';
import type { VerifiedReading } from './ports.js';

/** What opens lines off this thread (LegacyOpenPool); answers must come back in call order. */
export interface LegacyLinePool {
  open(job: LegacyOpenJob): Promise<OpenedLegacyTokens>;
}

/** What the opener needs from a replay window (Iv16ReplayWindow in the pipeline). */
export interface LegacyReplayWindow {
  /** Records the IV (four big-endian 32-bit words) and returns true if it is new, false for a replay. */
  firstSightingWords(w0: number, w1: number, w2: number, w3: number): boolean;
  /** Forgets a recorded IV (32 hex characters) whose token was not taken after all. */
  forget(ivHex: string): void;
}

export interface LegacyOpenerOptions {
  readonly key: Buffer;
  readonly device: string;
  readonly acceptVariants: readonly LegacyHashVariant[];
  readonly ivWindow: LegacyReplayWindow;
  readonly now?: () => number;
}

export interface TokenRefusal {
  readonly reason: ReasonCode;
  readonly detail: string;
  readonly raw: Uint8Array;
}

export interface LegacyLineOutcome {
  readonly readings: VerifiedReading[];
  /** Parallel to `readings`: the position of each one's token in the line (its raw bytes, if the store refuses it). */
  readonly tokenOf: number[];
  readonly refused: TokenRefusal[];
}

export class LegacyOpener {
  private readonly now: () => number;
  /** Scratch for the IVs of a line as words (4 per token), grown to the longest line seen. */
  private ivWords = new Uint32Array(4 * 512);

  constructor(private readonly options: LegacyOpenerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * `redrive` skips the IV window: an operator re-driving a dead letter, at `receivedAt` = when the
   * letter first arrived. The reading's key is (device, ts, seq) with ts the receive time, so the letter's
   * own time (not now) and the IV-derived seq make a repeated re-drive a duplicate, not a new copy.
   */
  openLine(tokens: readonly string[], mode: 'live' | 'redrive' = 'live', receivedAt = this.now()): LegacyLineOutcome {
    if (this.ivWords.length < 4 * tokens.length) this.ivWords = new Uint32Array(4 * tokens.length);
    // The whole line at once: one AES call for every token's keystream (see openLegacyTokens).
    const results = openLegacyTokens(tokens, this.options.key, this.options.acceptVariants, this.ivWords);
    return this.judgeLine(tokens, { results, ivWords: this.ivWords }, mode, receivedAt);
  }

  /**
   * A live line opened by `pool` (worker threads) instead of on this thread. The pool answers in call
   * order, so lines are judged against the replay window, and stamped, in the order they arrived.
   */
  async openLineWith(pool: LegacyLinePool, tokens: readonly string[]): Promise<LegacyLineOutcome> {
    const receivedAt = this.now();
    const line = await pool.open({ tokens, key: this.options.key, accept: this.options.acceptVariants });
    return this.judgeLine(tokens, line, 'live', receivedAt);
  }

  /**
   * Forgets the IVs of tokens this opener took (live) that were not taken after all (refused
   * state_unavailable, or not committed): their resend is not a replay. A token starts with its IV.
   */
  forgetTokens(tokens: readonly string[]): void {
    for (const token of tokens) {
      try {
        this.options.ivWindow.forget(token.slice(0, 32));
      } catch {
        // not an IV: the token was never recorded
      }
    }
  }

  /**
   * Turns each opened token into a reading or a refusal: the per-token rules, in one place whichever
   * thread opened the line.
   */
  private judgeLine(
    tokens: readonly string[],
    line: OpenedLegacyTokens,
    mode: 'live' | 'redrive',
    receivedAt: number,
  ): LegacyLineOutcome {
    const { results, ivWords } = line;
    const readings: VerifiedReading[] = [];
    const tokenOf: number[] = [];
    const refused: TokenRefusal[] = [];
    for (let i = 0; i < results.length; i += 1) {
      const opened = results[i];
      const token = tokens[i];
      if (opened === undefined || token === undefined) continue;
      if (!opened.ok) {
        refused.push({ reason: opened.reason, detail: opened.detail, raw: Buffer.from(token, 'latin1') });
        continue;
      }
      // The seed's fields are free text and JSON escapes reach them (\u0000, \ud800): PostgreSQL cannot store
      // those, and one such reading failed its whole batch's commit. Refused alone, like a native reading.
      const { name, origin, destination } = opened.message;
      if (!isStorableText(name) || !isStorableText(origin) || !isStorableText(destination)) {
        refused.push({
          reason: 'unstorable_text',
          detail: 'name, origin or destination contains a NUL character or an unpaired surrogate',
          raw: Buffer.from(token, 'latin1'),
        });
        continue;
      }
      // Checked after integrity so a forged token cannot occupy a slot in the window.
      const w0 = ivWords[4 * i] as number;
      const w1 = ivWords[4 * i + 1] as number;
      const w2 = ivWords[4 * i + 2] as number;
      const w3 = ivWords[4 * i + 3] as number;
      if (mode === 'live' && !this.options.ivWindow.firstSightingWords(w0, w1, w2, w3)) {
        refused.push({
          reason: 'legacy_replayed_token',
          detail: 'a token with this IV was already received',
          raw: Buffer.from(token, 'latin1'),
        });
        continue;
      }
      readings.push({
        device: this.options.device,
        seq: seqFromIvWords(w0, w1),
        ts: receivedAt,
        data: { name, origin, destination },
        source: 'legacy',
        receivedAt,
      });
      tokenOf.push(i);
    }
    return { readings, tokenOf, refused };
  }
}

/** First 53 bits of the IV as a safe integer. */
export function seqFromIv(ivHex: string): number {
  const high = Number.parseInt(ivHex.slice(0, 8), 16); // 32 bits
  const low = Number.parseInt(ivHex.slice(8, 14), 16) >>> 3; // 21 of the next 24 bits
  return high * 2 ** 21 + low;
}

/** seqFromIv for an IV given as big-endian words: all 32 bits of the first, the top 21 of the second. */
export function seqFromIvWords(w0: number, w1: number): number {
  return w0 * 2 ** 21 + (w1 >>> 11);
}
