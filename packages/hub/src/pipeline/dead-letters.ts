/**
 * Builds dead letters from refused input: cuts raw bytes to the configured bound and applies a
 * per-second budget, shared fairly between peers (dead-letter-budget.ts), so a flood of garbage cannot
 * fill the store nor push out another client's evidence. Over budget, the refusal is still counted
 * (metrics, stats) but its bytes are not kept; the number not kept is reported. The store's size is
 * bounded separately, by the application's periodic prune (store/dead-letter-retention.ts). Raw bytes that
 * hold a configured credential are replaced by a notice.
 */
import { storableText, type ReasonCode } from '@sealstream/protocol';
import { FairDeadLetterBudget } from './dead-letter-budget.js';
import type { DeadLetter, SourceKind } from './ports.js';

export interface DeadLetterPolicy {
  /** Raw bytes kept per dead letter. */
  readonly maxRawBytes: number;
  /** Dead letters kept per second across the hub (one peer: at most a quarter of what is left); the rest are counted only. */
  readonly maxPerSecond: number;
  /**
   * Credentials a client may send as data by mistake (the legacy AUTH tokens: `DATA:<token>`): raw bytes
   * holding one anywhere are not kept, since any viewer can read a dead letter.
   */
  readonly secrets?: readonly string[];
}

/** Kept instead of raw bytes that hold one of the policy's secrets. */
const REDACTED_RAW = new TextEncoder().encode('<redacted: holds a credential>');

export interface Refusal {
  readonly reason: ReasonCode;
  readonly source: SourceKind;
  readonly peer: string;
  readonly device: string | null;
  readonly detail: string;
  readonly raw: Uint8Array;
}

export class DeadLetterFactory {
  private readonly budget: FairDeadLetterBudget;
  private readonly secrets: readonly Buffer[];
  private notKeptCount = 0;

  constructor(
    private readonly policy: DeadLetterPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.budget = new FairDeadLetterBudget(policy.maxPerSecond);
    this.secrets = (policy.secrets ?? [])
      .filter((secret) => secret !== '')
      .map((secret) => Buffer.from(secret, 'utf8'));
  }

  /** Returns the dead letter to store, or null when over the budget (hub-wide, or the peer's share of it). */
  build(refusal: Refusal): DeadLetter | null {
    const at = this.now();
    if (!this.budget.take(refusal.peer, at)) {
      this.notKeptCount += 1;
      return null;
    }
    // The whole input is searched, not only what is kept: a secret may straddle the cut.
    const secret = this.holdsSecret(refusal.raw);
    const truncated = !secret && refusal.raw.byteLength > this.policy.maxRawBytes;
    // Copy: the raw bytes are often a view into a socket buffer that will be reused.
    const raw = secret
      ? REDACTED_RAW.slice()
      : Uint8Array.prototype.slice.call(refusal.raw, 0, this.policy.maxRawBytes);
    return {
      reason: refusal.reason,
      source: refusal.source,
      // These echo hostile input (a device id, a field name) into text columns: a NUL or an unpaired
      // surrogate there would make the dead letter itself refuse to commit, and its batch with it.
      peer: storableText(refusal.peer),
      device: refusal.device === null ? null : storableText(refusal.device),
      detail: storableText(refusal.detail),
      raw,
      truncated,
      receivedAt: at,
    };
  }

  private holdsSecret(raw: Uint8Array): boolean {
    if (this.secrets.length === 0) return false;
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return this.secrets.some((secret) => bytes.includes(secret));
  }

  get notKept(): number {
    return this.notKeptCount;
  }
}
