/**
 * Remembers the nonces of signed HTTP requests so a captured request cannot be replayed.
 *
 * A signed request is valid while its timestamp is within `toleranceMs` of the hub clock, so a nonce
 * must be remembered until that request could no longer pass the timestamp check: until
 * max(now, timestamp) + toleranceMs. Each entry keeps that expiry; expired entries are swept lazily.
 *
 * Bound and overflow policy: at most `maxEntries` live nonces. When the window is full of unexpired
 * nonces a new one is NOT recorded and the caller must refuse the request as overloaded: forgetting a
 * nonce early would reopen a replay hole, so this window fails closed. Callers record a nonce only
 * after the request's signature verified, so forged requests cannot fill it.
 */

export type NonceVerdict = 'fresh' | 'replayed' | 'full';

export class NonceWindow {
  private readonly expiries = new Map<string, number>();
  /** Earliest expiry seen by the last full sweep: no sweep can free anything before then. */
  private nothingExpiresBefore = 0;
  private fullCount = 0;

  constructor(
    private readonly toleranceMs: number,
    private readonly maxEntries: number,
  ) {
    if (!(toleranceMs > 0) || !Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new Error('nonce window: toleranceMs must be > 0 and maxEntries a positive integer');
    }
  }

  /**
   * Records `nonce` (already scoped by the caller, e.g. device + nonce) for a request stamped
   * `timestampMs`, received at `now`. 'replayed' when it is still remembered; 'full' when the bound is
   * reached (nothing recorded).
   */
  check(nonce: string, timestampMs: number, now: number): NonceVerdict {
    const known = this.expiries.get(nonce);
    if (known !== undefined) {
      if (known > now) return 'replayed';
      this.expiries.delete(nonce);
    }
    if (this.expiries.size >= this.maxEntries) {
      this.sweep(now);
      if (this.expiries.size >= this.maxEntries) {
        this.fullCount += 1;
        return 'full';
      }
    }
    const expiry = Math.max(now, timestampMs) + this.toleranceMs;
    this.expiries.set(nonce, expiry);
    if (expiry < this.nothingExpiresBefore) this.nothingExpiresBefore = expiry;
    return 'fresh';
  }

  get size(): number {
    return this.expiries.size;
  }

  /** How many requests were turned away because the window was full. */
  get refusedWhileFull(): number {
    return this.fullCount;
  }

  private sweep(now: number): void {
    // A full window of long-lived nonces would otherwise cost a whole scan per request.
    if (now < this.nothingExpiresBefore) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [nonce, expiry] of this.expiries) {
      if (expiry <= now) this.expiries.delete(nonce);
      else if (expiry < earliest) earliest = expiry;
    }
    this.nothingExpiresBefore = earliest;
  }
}
