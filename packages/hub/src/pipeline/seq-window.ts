/**
 * A per-device anti-replay window over sequence numbers, fed only with COMMITTED readings.
 *
 * It answers "was (device, seq) certainly committed already?" without a database round trip, so
 * resends are acknowledged as duplicates cheaply. It never claims a reading is new: anything it cannot
 * decide (older than the window, unknown device) goes to the store, whose unique key is the truth.
 * Recording only after commit matters: marking before commit would turn a failed commit plus a resend
 * into a lost reading.
 *
 * Each device holds a fixed ring of bits over the `windowSize` sequence numbers below its highest one
 * (512 bytes for 4096), so memory per device is constant however much it sends — a set of seen numbers
 * grew to thousands of entries per busy device — and recording is a few array operations per reading.
 *
 * Bounds: `windowSize` bits per device, at most `maxDevices` devices; overflow policy: a device that
 * was not used since the eviction hand last passed it is forgotten (CLOCK, an approximation of least
 * recently used that does not reorder a map on every reading); its next duplicates are then caught by
 * the store instead.
 */
export class SeqWindow {
  private readonly devices = new Map<string, DeviceWindow>();
  /** Ring length in bits: the window rounded up to whole 32-bit words. */
  private readonly ringBits: number;

  constructor(
    private readonly windowSize = 4096,
    private readonly maxDevices = 100_000,
  ) {
    if (!Number.isSafeInteger(windowSize) || windowSize < 1) throw new RangeError('SeqWindow: windowSize must be >= 1');
    if (!Number.isSafeInteger(maxDevices) || maxDevices < 1) throw new RangeError('SeqWindow: maxDevices must be >= 1');
    this.ringBits = Math.ceil(windowSize / 32) * 32;
  }

  /** True when this (device, seq) was certainly committed before. */
  seen(device: string, seq: number): boolean {
    const window = this.devices.get(device);
    if (window === undefined) return false;
    const offset = window.highest - seq;
    if (!(offset >= 0 && offset < this.windowSize)) return false;
    const position = seq % this.ringBits;
    return ((window.bits[position >>> 5] as number) & (1 << (position & 31))) !== 0;
  }

  recordCommitted(device: string, seq: number): void {
    let window = this.devices.get(device);
    if (window === undefined) {
      if (this.devices.size >= this.maxDevices) this.evictOne();
      // Unreferenced until used again: a device seen once is the first to go.
      window = { highest: seq, bits: new Uint32Array(this.ringBits / 32), referenced: false };
      this.devices.set(device, window);
    } else {
      window.referenced = true;
    }
    if (seq > window.highest) {
      this.advance(window, seq);
    } else if (!(window.highest - seq < this.windowSize)) {
      return;
    }
    const position = seq % this.ringBits;
    window.bits[position >>> 5] = (window.bits[position >>> 5] as number) | (1 << (position & 31));
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  /** Moves the window's top to `seq`, clearing the ring positions the new numbers take over. */
  private advance(window: DeviceWindow, seq: number): void {
    const distance = seq - window.highest;
    if (distance >= this.ringBits) {
      window.bits.fill(0);
    } else {
      for (let n = window.highest + 1; n <= seq; n += 1) {
        const position = n % this.ringBits;
        window.bits[position >>> 5] = (window.bits[position >>> 5] as number) & ~(1 << (position & 31));
      }
    }
    window.highest = seq;
  }

  /** CLOCK: the oldest entry goes unless used since the hand last passed; then it gets a second chance. */
  private evictOne(): void {
    // Terminates: each pass clears `referenced`, so at most one full round before something is evicted.
    for (;;) {
      const oldest = this.devices.entries().next();
      if (oldest.done === true) return;
      const [device, window] = oldest.value;
      this.devices.delete(device);
      if (!window.referenced) return;
      window.referenced = false;
      this.devices.set(device, window);
    }
  }
}

interface DeviceWindow {
  highest: number;
  bits: Uint32Array;
  referenced: boolean;
}
