/**
 * The nonces of signed messages this hub took (nonce recorded) but has not yet settled: submitted, not
 * yet stored, refused or given up as busy. It keeps "in flight" apart from "taken": the broker may hand a
 * message out again while its first copy is still committing (the consumer's channel dropped), and that
 * copy must not be acknowledged as already stored — if the first copy then ends busy, nothing else
 * holds the message. Such a redelivery is answered busy (retried later) instead.
 *
 * Bound: one entry per message in hand, which the consumer's prefetch bounds (a dropped channel's
 * messages finish within the commit deadline); past `maxEntries` a new message is answered busy
 * (never taken unchecked) and counted.
 */
export class InFlightNonces {
  readonly #ids = new Set<string>();
  #refusedWhileFull = 0;

  constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('in-flight nonces: maxEntries must be >= 1');
  }

  /** Marks a message in flight; false (nothing marked, counted) when the bound is reached. */
  hold(id: string): boolean {
    if (this.#ids.size >= this.maxEntries && !this.#ids.has(id)) {
      this.#refusedWhileFull += 1;
      return false;
    }
    this.#ids.add(id);
    return true;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** The message settled (stored, refused, or busy and its nonce forgotten). */
  release(id: string): void {
    this.#ids.delete(id);
  }

  get full(): boolean {
    return this.#ids.size >= this.maxEntries;
  }

  get size(): number {
    return this.#ids.size;
  }

  get refusedWhileFull(): number {
    return this.#refusedWhileFull;
  }
}
