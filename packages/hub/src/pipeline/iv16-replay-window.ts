/**
 * The legacy replay window: remembers the IVs of recently accepted legacy tokens so a captured token
 * cannot be replayed. Same policy as IvReplayWindow (iv-replay-window.ts) — two generations rotating every
 * `generationMs`, each at most `maxPerGeneration` IVs, early rotation (counted) when the current one
 * fills — but over 16-byte IVs held as words in Iv16Sets instead of strings in Sets, because every
 * legacy token passes through it (see iv16-set.ts for why that matters at 100K tokens a second).
 *
 * Forgetting (a line refused state_unavailable, or not committed: its resend is no replay): the sets
 * never delete (open addressing), so a forgotten IV stays in its set and is noted in a small map
 * consulted only on a replay hit — a hit on a forgotten IV is taken as a first sighting once more (and
 * no longer forgotten). The hot path pays nothing while the map is empty. Bound: MAX_FORGOTTEN entries;
 * past it the oldest is dropped (that IV is refused as a replay until the window ends, as without forget).
 */
import { Iv16Set } from './iv16-set.js';

const MAX_FORGOTTEN = 65_536;

export class Iv16ReplayWindow {
  #current: Iv16Set;
  #previous: Iv16Set;
  #rotatedAt: number;
  #earlyRotations = 0;
  /** IVs (as forgottenKey) forgotten while still in a set; insertion order is age. */
  readonly #forgotten = new Set<string>();

  constructor(
    private readonly generationMs: number,
    private readonly maxPerGeneration: number,
    private readonly now: () => number = Date.now,
    /** The sets' hash seed; random unless a test fixes it. */
    seed?: number,
  ) {
    this.#current = new Iv16Set(maxPerGeneration, seed);
    this.#previous = new Iv16Set(maxPerGeneration, seed);
    this.#rotatedAt = now();
  }

  /**
   * Records the IV (32 hex characters, either case) and returns true if it is new, false for a replay.
   * Throws RangeError for anything else: callers pass IVs the protocol layer has already decoded.
   */
  firstSighting(ivHex: string): boolean {
    const [w0, w1, w2, w3] = ivWords(ivHex);
    return this.firstSightingWords(w0, w1, w2, w3);
  }

  /**
   * Forgets an IV recorded by firstSighting whose token was not taken after all (not committed, or not
   * checked by the shared window): its resend is a first sighting again. Same IV format as firstSighting.
   */
  forget(ivHex: string): void {
    const [w0, w1, w2, w3] = ivWords(ivHex);
    if (!this.#current.has(w0, w1, w2, w3) && !this.#previous.has(w0, w1, w2, w3)) return;
    const key = forgottenKey(w0, w1, w2, w3);
    this.#forgotten.delete(key);
    if (this.#forgotten.size >= MAX_FORGOTTEN) {
      const oldest = this.#forgotten.values().next();
      if (oldest.done !== true) this.#forgotten.delete(oldest.value);
    }
    this.#forgotten.add(key);
  }

  /** The same for an IV given as four big-endian unsigned 32-bit words (see openLegacyTokens' ivWords). */
  firstSightingWords(w0: number, w1: number, w2: number, w3: number): boolean {
    if (this.now() - this.#rotatedAt >= this.generationMs) this.#rotate();
    if (this.#previous.has(w0, w1, w2, w3)) return this.#takeForgotten(w0, w1, w2, w3);
    if (this.#current.size >= this.maxPerGeneration) this.#rotateEarly();
    switch (this.#current.add(w0, w1, w2, w3)) {
      case 'added':
        this.#dropForgotten(w0, w1, w2, w3);
        return true;
      case 'present':
        return this.#takeForgotten(w0, w1, w2, w3);
      case 'full':
        // No free slot near this IV's home (crafted collisions): start a fresh generation. The IV may
        // still be in the one that just became previous, further along than the insert looked.
        this.#rotateEarly();
        if (this.#previous.has(w0, w1, w2, w3)) return this.#takeForgotten(w0, w1, w2, w3);
        this.#current.add(w0, w1, w2, w3);
        this.#dropForgotten(w0, w1, w2, w3);
        return true;
    }
  }

  /** A hit: a replay, unless the IV was forgotten — then it is taken again (true) and no longer forgotten. */
  #takeForgotten(w0: number, w1: number, w2: number, w3: number): boolean {
    if (this.#forgotten.size === 0) return false;
    return this.#forgotten.delete(forgottenKey(w0, w1, w2, w3));
  }

  /** A new sighting: a note left from before the IV left the window must not let a later replay pass. */
  #dropForgotten(w0: number, w1: number, w2: number, w3: number): void {
    if (this.#forgotten.size > 0) this.#forgotten.delete(forgottenKey(w0, w1, w2, w3));
  }

  get earlyRotations(): number {
    return this.#earlyRotations;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  #rotateEarly(): void {
    this.#rotate();
    this.#earlyRotations += 1;
  }

  /** The oldest generation's set is emptied and reused as the new current one. */
  #rotate(): void {
    const recycled = this.#previous;
    recycled.clear();
    this.#previous = this.#current;
    this.#current = recycled;
    this.#rotatedAt = this.now();
  }
}

function forgottenKey(w0: number, w1: number, w2: number, w3: number): string {
  return `${w0}.${w1}.${w2}.${w3}`;
}

/** The IV (32 hex characters, either case) as four words; RangeError for anything else. */
function ivWords(ivHex: string): [number, number, number, number] {
  const w0 = hexWord(ivHex, 0);
  const w1 = hexWord(ivHex, 8);
  const w2 = hexWord(ivHex, 16);
  const w3 = hexWord(ivHex, 24);
  if (ivHex.length !== 32 || w0 < 0 || w1 < 0 || w2 < 0 || w3 < 0) {
    throw new RangeError('an IV must be 32 hex characters');
  }
  return [w0, w1, w2, w3];
}

/** Eight hex characters at `at` as an unsigned 32-bit value, or -1 if any is not a hex digit. */
function hexWord(hex: string, at: number): number {
  let word = 0;
  for (let i = at; i < at + 8; i += 1) {
    const code = hex.charCodeAt(i);
    let digit: number;
    if (code >= 0x30 && code <= 0x39) digit = code - 0x30;
    else if (code >= 0x61 && code <= 0x66) digit = code - 0x57;
    else if (code >= 0x41 && code <= 0x46) digit = code - 0x37;
    else return -1;
    word = (word << 4) | digit;
  }
  return word >>> 0;
}
