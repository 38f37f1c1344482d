/**
 * Builds dead letters from refused input: cuts raw bytes to the configured bound and applies a
 * per-second budget so a flood of garbage cannot fill the store. Over budget, the refusal is still
 * counted (metrics, stats) but its bytes are not kept; the number not kept is reported.
 */
import type { ReasonCode } from '@sealstream/protocol';
import type { DeadLetter, SourceKind } from './ports.js';

export interface DeadLetterPolicy {
  /** Raw bytes kept per dead letter. */
  readonly maxRawBytes: number;
  /** Dead letters kept per second across the hub; the rest are counted only. */
  readonly maxPerSecond: number;
}

export interface Refusal {
  readonly reason: ReasonCode;
  readonly source: SourceKind;
  readonly peer: string;
  readonly device: string | null;
  readonly detail: string;
  readonly raw: Uint8Array;
}

export class DeadLetterFactory {
  private windowStart = 0;
  private keptInWindow = 0;
  private notKeptCount = 0;

  constructor(
    private readonly policy: DeadLetterPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns the dead letter to store, or null when over the per-second budget. */
  build(refusal: Refusal): DeadLetter | null {
    const at = this.now();
    if (at - this.windowStart >= 1000) {
      this.windowStart = at;
      this.keptInWindow = 0;
    }
    if (this.keptInWindow >= this.policy.maxPerSecond) {
      this.notKeptCount += 1;
      return null;
    }
    this.keptInWindow += 1;
    const truncated = refusal.raw.byteLength > this.policy.maxRawBytes;
    // Copy: the raw bytes are often a view into a socket buffer that will be reused.
    const raw = Uint8Array.prototype.slice.call(refusal.raw, 0, this.policy.maxRawBytes);
    return {
      reason: refusal.reason,
      source: refusal.source,
      peer: refusal.peer,
      device: refusal.device,
      detail: refusal.detail,
      raw,
      truncated,
      receivedAt: at,
    };
  }

  get notKept(): number {
    return this.notKeptCount;
  }
}
