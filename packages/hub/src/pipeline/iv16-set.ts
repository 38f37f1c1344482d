/**
 * A set of 16-byte IVs in one flat Uint32Array (open addressing, linear probing), for the legacy replay
 * window that sees every legacy token (up to ~100K a second, up to a million per generation).
 *
 * Why not a Set of hex strings: at that rate the Set cost ~1.3 µs per check (hashing fresh strings,
 * rehashing as it grows) and kept a million strings alive in the old generation for the GC to mark
 * again and again. Here an IV is four words in a typed array: no objects, one cache line per probe.
 *
 * An empty slot is four zero words, so the all-zero IV is remembered in a flag of its own. Slots are
 * found with a hash seeded per process. An insert that finds no free slot within MAX_PROBES reports
 * `full` and the window rotates early (its ordinary overflow policy), so IVs crafted to collide can at
 * worst shorten the window — which sending a million IVs can do anyway. Nothing is ever deleted, and the
 * load stays at most 0.5, so a lookup always ends at an empty slot. Only verified tokens reach the set.
 */
import { randomBytes } from 'node:crypto';

const WORDS_PER_SLOT = 4;
const MIN_SLOTS = 4096;
/** Load factor at which the table doubles (until it reaches its maximum size). */
const MAX_LOAD = 0.5;
/** Longest probe sequence; at load 0.5 a longer one is ~1e-11 likely for random IVs. */
const MAX_PROBES = 128;

export type Iv16Insert = 'added' | 'present' | 'full';

export class Iv16Set {
  #slots: Uint32Array;
  #mask: number;
  #size = 0;
  #hasZero = false;
  readonly #maxSlots: number;
  readonly #seed: number;

  /** Holds up to `maxEntries` IVs at a load of at most 0.5; memory grows with use, 16 bytes per slot. */
  constructor(maxEntries: number, seed: number = randomBytes(4).readUInt32LE(0)) {
    this.#maxSlots = Math.max(MIN_SLOTS, nextPowerOfTwo(Math.ceil(maxEntries / MAX_LOAD)));
    this.#seed = seed;
    this.#slots = new Uint32Array(MIN_SLOTS * WORDS_PER_SLOT);
    this.#mask = MIN_SLOTS - 1;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Scans to the first empty slot, unbounded: an IV placed by #grow may sit further than MAX_PROBES from
   * its home, and a replay must never be missed. The load bound keeps empty slots, so the scan ends.
   */
  has(w0: number, w1: number, w2: number, w3: number): boolean {
    if ((w0 | w1 | w2 | w3) === 0) return this.#hasZero;
    const slots = this.#slots;
    let slot = this.#home(w0, w1, w2, w3);
    for (;;) {
      const at = slot * WORDS_PER_SLOT;
      const a = slots[at] as number;
      const b = slots[at + 1] as number;
      const c = slots[at + 2] as number;
      const d = slots[at + 3] as number;
      if ((a | b | c | d) === 0) return false;
      if (a === w0 && b === w1 && c === w2 && d === w3) return true;
      slot = (slot + 1) & this.#mask;
    }
  }

  /**
   * Words are unsigned 32-bit values (the IV read as four big-endian words). `full`: no free slot within
   * MAX_PROBES, and the IV was not seen there either (it may still be further on: ask `has`).
   */
  add(w0: number, w1: number, w2: number, w3: number): Iv16Insert {
    if ((w0 | w1 | w2 | w3) === 0) {
      if (this.#hasZero) return 'present';
      this.#hasZero = true;
      this.#size += 1;
      return 'added';
    }
    if (this.#size + 1 > (this.#mask + 1) * MAX_LOAD && this.#mask + 1 < this.#maxSlots) this.#grow();
    const slots = this.#slots;
    let slot = this.#home(w0, w1, w2, w3);
    for (let probe = 0; probe < MAX_PROBES; probe += 1) {
      const at = slot * WORDS_PER_SLOT;
      const a = slots[at] as number;
      const b = slots[at + 1] as number;
      const c = slots[at + 2] as number;
      const d = slots[at + 3] as number;
      if ((a | b | c | d) === 0) {
        slots[at] = w0;
        slots[at + 1] = w1;
        slots[at + 2] = w2;
        slots[at + 3] = w3;
        this.#size += 1;
        return 'added';
      }
      if (a === w0 && b === w1 && c === w2 && d === w3) return 'present';
      slot = (slot + 1) & this.#mask;
    }
    return 'full';
  }

  /**
   * Empties the set for reuse as the window's next generation: a table that was well used keeps its
   * memory (the next generation will likely need it again), one that was mostly empty shrinks back.
   */
  clear(): void {
    const slotCount = this.#mask + 1;
    if (slotCount > MIN_SLOTS && this.#size < slotCount / 8) {
      this.#slots = new Uint32Array(MIN_SLOTS * WORDS_PER_SLOT);
      this.#mask = MIN_SLOTS - 1;
    } else {
      this.#slots.fill(0);
    }
    this.#size = 0;
    this.#hasZero = false;
  }

  #home(w0: number, w1: number, w2: number, w3: number): number {
    return iv16Hash(this.#seed, w0, w1, w2, w3) & this.#mask;
  }

  #grow(): void {
    const old = this.#slots;
    const slotCount = (this.#mask + 1) * 2;
    this.#slots = new Uint32Array(slotCount * WORDS_PER_SLOT);
    this.#mask = slotCount - 1;
    for (let at = 0; at < old.length; at += WORDS_PER_SLOT) {
      const a = old[at] as number;
      const b = old[at + 1] as number;
      const c = old[at + 2] as number;
      const d = old[at + 3] as number;
      if ((a | b | c | d) !== 0) this.#place(a, b, c, d);
    }
  }

  /** Re-inserts during growth: the new table is sparser than the old, so a free slot is near. */
  #place(w0: number, w1: number, w2: number, w3: number): void {
    const slots = this.#slots;
    let slot = this.#home(w0, w1, w2, w3);
    for (;;) {
      const at = slot * WORDS_PER_SLOT;
      if (
        ((slots[at] as number) | (slots[at + 1] as number) | (slots[at + 2] as number) | (slots[at + 3] as number)) ===
        0
      ) {
        slots[at] = w0;
        slots[at + 1] = w1;
        slots[at + 2] = w2;
        slots[at + 3] = w3;
        return;
      }
      slot = (slot + 1) & this.#mask;
    }
  }
}

/** The seeded slot hash (exported so tests can craft collisions for a known seed). */
export function iv16Hash(seed: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = seed;
  h = Math.imul(h ^ w0, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h ^ w1, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ w2, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h ^ w3, 0x27d4eb2f);
  h ^= h >>> 15;
  return h >>> 0;
}

function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}
