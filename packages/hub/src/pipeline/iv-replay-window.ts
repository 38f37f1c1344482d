/**
 * Remembers recently seen IVs so a captured frame or legacy token cannot be replayed.
 *
 * Two generations of sets rotate every `generationMs`, so an IV is remembered for at least one full
 * generation and at most two, in O(1) per check. Bound: each generation holds at most `maxPerGeneration`
 * entries; when the current one fills, it rotates early (overflow policy: forget the oldest generation
 * sooner). Early rotations are counted so operators can see the window shrinking under load.
 * Native frames also carry an authenticated sent-at time checked against the clock-skew window, so a
 * generation at least as long as that window makes native replay detection complete.
 */
export class IvReplayWindow {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt: number;
  private earlyRotationCount = 0;

  constructor(
    private readonly generationMs: number,
    private readonly maxPerGeneration: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  /** Records the IV and returns true if it is new; returns false for a replay. */
  firstSighting(id: string): boolean {
    this.rotateIfDue();
    if (this.current.has(id) || this.previous.has(id)) return false;
    if (this.current.size >= this.maxPerGeneration) {
      this.rotate();
      this.earlyRotationCount += 1;
    }
    this.current.add(id);
    return true;
  }

  /** Forgets an IV recorded by a frame that was then refused for another reason before commit. */
  forget(id: string): void {
    this.current.delete(id);
  }

  get earlyRotations(): number {
    return this.earlyRotationCount;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private rotateIfDue(): void {
    if (this.now() - this.rotatedAt >= this.generationMs) this.rotate();
  }

  private rotate(): void {
    this.previous = this.current;
    this.current = new Set<string>();
    this.rotatedAt = this.now();
  }
}
