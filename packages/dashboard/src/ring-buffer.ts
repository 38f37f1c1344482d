/**
 * A fixed-capacity ring buffer: the one bounded container every live list in the dashboard uses.
 * Overflow policy: pushing into a full buffer overwrites the oldest item (and counts it as evicted),
 * so memory stays constant however fast events arrive.
 */
export class RingBuffer<T> {
  private readonly slots: Array<T | undefined>;
  /** Index of the oldest item. */
  private head = 0;
  private count = 0;
  private evictedCount = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`RingBuffer capacity must be a positive integer, got ${capacity}`);
    }
    this.slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** How many items were overwritten because the buffer was full. */
  get evicted(): number {
    return this.evictedCount;
  }

  push(item: T): void {
    const tail = (this.head + this.count) % this.capacity;
    this.slots[tail] = item;
    if (this.count < this.capacity) {
      this.count += 1;
    } else {
      this.head = (this.head + 1) % this.capacity;
      this.evictedCount += 1;
    }
  }

  pushAll(items: Iterable<T>): void {
    for (const item of items) this.push(item);
  }

  /** The item at `index` counted from the oldest (0) to the newest (size - 1). */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    return this.slots[(this.head + index) % this.capacity];
  }

  newest(): T | undefined {
    return this.at(this.count - 1);
  }

  oldest(): T | undefined {
    return this.at(0);
  }

  /** Drops items from the oldest end while `predicate` holds; used to trim by age. */
  dropOldestWhile(predicate: (item: T) => boolean): number {
    let dropped = 0;
    while (this.count > 0) {
      const item = this.slots[this.head] as T;
      if (!predicate(item)) break;
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count -= 1;
      dropped += 1;
    }
    return dropped;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  /** A copy, oldest first. */
  toArray(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i += 1) out[i] = this.slots[(this.head + i) % this.capacity] as T;
    return out;
  }

  /** A copy, newest first: the order tables show. */
  toArrayNewestFirst(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i += 1) out[i] = this.slots[(this.head + this.count - 1 - i) % this.capacity] as T;
    return out;
  }
}
