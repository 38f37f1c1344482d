/**
 * The latest reading of each recently active device, across ticks, so a client that missed ticks (it
 * was slow, or just connected) is sent the current state instead of a backlog.
 * Bound: at most `maxDevices` entries; the device updated longest ago is evicted first.
 */
import type { LiveReading } from '@sealstream/protocol';

interface Entry {
  readonly reading: LiveReading;
  readonly tick: number;
}

export class LatestReadings {
  // Insertion order is update order (entries are re-inserted on update), so ticks ascend along the map.
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxDevices: number) {}

  record(readings: readonly LiveReading[], tick: number): void {
    for (const reading of readings) {
      this.entries.delete(reading.device);
      this.entries.set(reading.device, { reading, tick });
    }
    while (this.entries.size > this.maxDevices) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /**
   * Latest readings of the devices updated after `tick`, the most recently updated `limit` of them;
   * `dropped` counts the changed devices that did not fit.
   */
  changedSince(tick: number, limit: number): { readings: LiveReading[]; dropped: number } {
    const changed: LiveReading[] = [];
    for (const entry of this.entries.values()) if (entry.tick > tick) changed.push(entry.reading);
    if (changed.length <= limit) return { readings: changed, dropped: 0 };
    return { readings: changed.slice(changed.length - limit), dropped: changed.length - limit };
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
