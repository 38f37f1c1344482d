/**
 * Refusals counted but not kept as dead letters (over the dead-letter budget, see dead-letters.ts), held
 * until the next commit carries them, so the stored per-minute counts (minute_buckets.invalid,
 * minute_rejects) match what the live counters saw even during a flood. Only counts travel, never bytes.
 *
 * Bound and overflow policy: at most `maxKeys` (device, reason, minute) entries; beyond it a refusal is
 * counted under the unknown device ('' in the store) for its reason and minute, which adds at most one
 * entry per reason and minute. Counts are lost only with the commit that carries them (a store outage
 * past the retry deadline, an overloaded queue, or a crash before the next commit).
 */
import type { ReasonCode } from '@sealstream/protocol';
import type { RefusalCount } from './ports.js';

const MINUTE_MS = 60_000;

export class RefusalTally {
  private readonly counts = new Map<string, RefusalCount & { count: number }>();

  constructor(private readonly maxKeys: number = 1000) {}

  add(device: string | null, reason: ReasonCode, at: number, count = 1): void {
    const minuteMs = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let key = `${device ?? ''}\u0000${reason}\u0000${minuteMs}`;
    let entry = this.counts.get(key);
    if (entry === undefined && this.counts.size >= this.maxKeys && device !== null) {
      // Full: fold this device into the unknown-device entry of the same reason and minute.
      device = null;
      key = `\u0000${reason}\u0000${minuteMs}`;
      entry = this.counts.get(key);
    }
    if (entry === undefined) this.counts.set(key, { device, reason, receivedAt: minuteMs, count });
    else entry.count += count;
  }

  /** Puts back counts taken for a commit that did not happen. */
  restore(taken: RefusalCount): void {
    this.add(taken.device, taken.reason, taken.receivedAt, taken.count);
  }

  get size(): number {
    return this.counts.size;
  }

  /** Everything tallied since the last take, emptied. */
  take(): RefusalCount[] {
    if (this.counts.size === 0) return [];
    const taken = [...this.counts.values()];
    this.counts.clear();
    return taken;
  }
}
