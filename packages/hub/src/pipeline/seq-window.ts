/**
 * A per-device anti-replay window over sequence numbers, fed only with COMMITTED readings.
 *
 * It answers "was (device, seq) certainly committed already?" without a database round trip, so
 * resends are acknowledged as duplicates cheaply. It never claims a reading is new: anything it cannot
 * decide (older than the window, unknown device) goes to the store, whose unique key is the truth.
 * Recording only after commit matters: marking before commit would turn a failed commit plus a resend
 * into a lost reading.
 *
 * Bounds: `windowSize` bits per device, at most `maxDevices` devices; overflow policy: the least
 * recently used device is forgotten (its next duplicates are then caught by the store instead).
 */
export class SeqWindow {
  private readonly devices = new Map<string, DeviceWindow>();

  constructor(
    private readonly windowSize = 4096,
    private readonly maxDevices = 100_000,
  ) {}

  /** True when this (device, seq) was certainly committed before. */
  seen(device: string, seq: number): boolean {
    const window = this.devices.get(device);
    if (window === undefined) return false;
    const offset = window.highest - seq;
    if (offset < 0 || offset >= this.windowSize) return false;
    return window.bits.has(seq);
  }

  recordCommitted(device: string, seq: number): void {
    let window = this.devices.get(device);
    if (window === undefined) {
      if (this.devices.size >= this.maxDevices) {
        const oldest = this.devices.keys().next();
        if (!oldest.done) this.devices.delete(oldest.value);
      }
      window = { highest: seq, bits: new Set<number>() };
    } else {
      // Re-insert to keep Map order = recency order for LRU eviction.
      this.devices.delete(device);
    }
    this.devices.set(device, window);
    if (seq > window.highest) {
      window.highest = seq;
      if (window.bits.size > this.windowSize * 2) this.prune(window);
    }
    if (window.highest - seq < this.windowSize) window.bits.add(seq);
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  private prune(window: DeviceWindow): void {
    const floor = window.highest - this.windowSize;
    for (const seq of window.bits) if (seq <= floor) window.bits.delete(seq);
  }
}

interface DeviceWindow {
  highest: number;
  bits: Set<number>;
}
