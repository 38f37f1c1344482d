/**
 * The device-side outbox: every reading accepted by `send()` stays here until the hub acknowledges it
 * (or refuses it for good). Readings waiting for a frame sit in FIFO order; readings of a frame in flight
 * are held by frame id and go back to the FRONT, in their original order, when the frame must be resent.
 *
 * Bound: `capacity` readings in total (waiting + in flight). Overflow policy: `reserve()` waits — real
 * backpressure to the producer, never a drop.
 */
import type { Reading } from '@sealstream/protocol';

export interface Entry {
  readonly reading: Reading;
  /** Order of acceptance; lets flush() know when everything sent before it has settled. */
  readonly ordinal: number;
}

export class Outbox {
  private waiting: Entry[] = [];
  private head = 0;
  private readonly inFlight = new Map<number, Entry[]>();
  private inFlightReadings = 0;
  private nextOrdinal = 0;
  private spaceWaiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.waitingCount + this.inFlightReadings;
  }

  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  get inFlightFrames(): number {
    return this.inFlight.size;
  }

  get inFlightCount(): number {
    return this.inFlightReadings;
  }

  /** Resolves when there is room for one more reading. */
  reserve(): Promise<void> | undefined {
    if (this.size < this.capacity) return undefined;
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  push(reading: Reading): number {
    const ordinal = this.nextOrdinal;
    this.nextOrdinal += 1;
    this.waiting.push({ reading, ordinal });
    return ordinal;
  }

  /** Ordinal the next accepted reading will get: flush() waits until everything below it settles. */
  get acceptedUpTo(): number {
    return this.nextOrdinal;
  }

  take(max: number): Entry[] {
    const end = Math.min(this.waiting.length, this.head + max);
    const taken = this.waiting.slice(this.head, end);
    this.head = end;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return taken;
  }

  /** Puts entries taken but not sent back to the front. */
  untake(entries: Entry[]): void {
    this.requeue([entries]);
  }

  markInFlight(frameId: number, entries: Entry[]): void {
    this.inFlight.set(frameId, entries);
    this.inFlightReadings += entries.length;
  }

  /** Settles a frame (acknowledged or refused for good) and frees its room. */
  settle(frameId: number): Entry[] | undefined {
    const entries = this.inFlight.get(frameId);
    if (entries === undefined) return undefined;
    this.inFlight.delete(frameId);
    this.inFlightReadings -= entries.length;
    this.wakeSpaceWaiters();
    return entries;
  }

  /** Returns one frame's readings to the front (retryable refusal). */
  returnFrame(frameId: number): number {
    const entries = this.inFlight.get(frameId);
    if (entries === undefined) return 0;
    this.inFlight.delete(frameId);
    this.inFlightReadings -= entries.length;
    this.requeue([entries]);
    return entries.length;
  }

  /** Returns every frame in flight to the front, oldest first (connection lost). */
  returnAll(): number {
    const frames = [...this.inFlight.values()].sort((a, b) => (a[0]?.ordinal ?? 0) - (b[0]?.ordinal ?? 0));
    this.inFlight.clear();
    this.inFlightReadings = 0;
    this.requeue(frames);
    return frames.reduce((sum, frame) => sum + frame.length, 0);
  }

  /** The lowest ordinal not yet settled, or acceptedUpTo when everything has settled. */
  lowestUnsettled(): number {
    let lowest = this.waiting[this.head]?.ordinal ?? this.nextOrdinal;
    // Frames are cut from the ordinal-sorted queue, so a frame's first entry is its lowest.
    for (const entries of this.inFlight.values()) {
      const first = entries[0]?.ordinal ?? lowest;
      if (first < lowest) lowest = first;
    }
    return lowest;
  }

  private requeue(frames: Entry[][]): void {
    const front = frames.flat().sort((a, b) => a.ordinal - b.ordinal);
    if (front.length === 0) return;
    this.waiting = [...front, ...this.waiting.slice(this.head)].sort((a, b) => a.ordinal - b.ordinal);
    this.head = 0;
  }

  /** Wakes every producer waiting for room, so it can notice the client shut down instead of waiting forever. */
  releaseWaiters(): void {
    for (const wake of this.spaceWaiters.splice(0)) wake();
  }

  private wakeSpaceWaiters(): void {
    while (this.spaceWaiters.length > 0 && this.size < this.capacity) this.spaceWaiters.shift()?.();
  }
}
