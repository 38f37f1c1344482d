/**
 * Remembers the nonces of signed HTTP requests so a captured request cannot be replayed.
 *
 * A signed request is valid while its timestamp is within `toleranceMs` of the hub clock, so a nonce
 * must be remembered until that request could no longer pass the timestamp check: until
 * max(now, timestamp) + toleranceMs. Each entry keeps that expiry; expired entries are swept lazily.
 * Nonces are kept per owner (the device that signed), so one owner's nonces never collide with
 * another's.
 *
 * Bounds and overflow policy: at most `maxPerOwner` live nonces per owner and `maxEntries` in all. A
 * nonce over either bound is NOT recorded and the caller must refuse the request ('owner_full': that
 * owner sends too much, others are unaffected; 'full': the hub as a whole is over its bound). Forgetting
 * a nonce early would reopen a replay hole, so this window fails closed. The per-owner bound is what
 * keeps one owner (e.g. a device whose key leaked) from filling the whole window and locking every other
 * device out: filling it takes maxEntries / maxPerOwner owners. Callers record a nonce only after the
 * request's signature verified, so forged requests cannot fill it. The owner records are bounded too: an
 * owner with no nonce left is dropped, so there are never more owners than entries.
 */

export type NonceVerdict = 'fresh' | 'replayed' | 'owner_full' | 'full';

interface OwnerNonces {
  readonly expiries: Map<string, number>;
  /** No expiry of this owner is earlier (exact after a sweep, lowered by inserts). */
  nothingExpiresBefore: number;
}

export class NonceWindow {
  private readonly owners = new Map<string, OwnerNonces>();
  private entries = 0;
  /** Earliest expiry seen by the last full sweep: no sweep can free anything before then. */
  private nothingExpiresBefore = 0;
  private fullCount = 0;
  private ownerFullCount = 0;

  constructor(
    private readonly toleranceMs: number,
    private readonly maxEntries: number,
    private readonly maxPerOwnerEntries: number = maxEntries,
  ) {
    if (!(toleranceMs > 0) || !isPositiveInteger(maxEntries) || !isPositiveInteger(maxPerOwnerEntries)) {
      throw new Error('nonce window: toleranceMs must be > 0, maxEntries and maxPerOwner positive integers');
    }
  }

  /**
   * What `check` would answer now, without recording anything: lets a caller refuse a replay (or a full
   * window) before doing work it charges for, then record the nonce. Refusals for a bound are counted.
   */
  verdict(owner: string, nonce: string, now: number): NonceVerdict {
    const nonces = this.owners.get(owner);
    if (nonces !== undefined) {
      const known = nonces.expiries.get(nonce);
      if (known !== undefined) {
        if (known > now) return 'replayed';
        this.remove(owner, nonces, nonce);
      }
      if (nonces.expiries.size >= this.maxPerOwnerEntries) {
        this.sweepOwner(owner, nonces, now);
        if (nonces.expiries.size >= this.maxPerOwnerEntries) {
          this.ownerFullCount += 1;
          return 'owner_full';
        }
      }
    }
    if (this.entries >= this.maxEntries) {
      this.sweep(now);
      if (this.entries >= this.maxEntries) {
        this.fullCount += 1;
        return 'full';
      }
    }
    return 'fresh';
  }

  /**
   * Records `nonce` of `owner` for a request stamped `timestampMs`, received at `now`. 'replayed' when it
   * is still remembered; 'owner_full' / 'full' when a bound is reached (nothing recorded).
   */
  check(owner: string, nonce: string, timestampMs: number, now: number): NonceVerdict {
    const verdict = this.verdict(owner, nonce, now);
    if (verdict !== 'fresh') return verdict;
    const expiry = Math.max(now, timestampMs) + this.toleranceMs;
    let nonces = this.owners.get(owner);
    if (nonces === undefined) {
      nonces = { expiries: new Map(), nothingExpiresBefore: expiry };
      this.owners.set(owner, nonces);
    }
    nonces.expiries.set(nonce, expiry);
    this.entries += 1;
    if (expiry < nonces.nothingExpiresBefore) nonces.nothingExpiresBefore = expiry;
    if (expiry < this.nothingExpiresBefore) this.nothingExpiresBefore = expiry;
    return 'fresh';
  }

  /**
   * Forgets a recorded nonce whose message did nothing because the hub was busy (nothing committed,
   * nothing acknowledged): its broker redelivery is the same message, not a replay.
   */
  forget(owner: string, nonce: string): void {
    const nonces = this.owners.get(owner);
    if (nonces !== undefined && nonces.expiries.has(nonce)) this.remove(owner, nonces, nonce);
  }

  /**
   * When the owner's earliest remembered nonce expires (so one more can be recorded if it is at its
   * bound); never later than the truth, so a client told to wait until then does not wait too long.
   * `now` when the owner has no nonce.
   */
  ownerFreesAt(owner: string, now: number): number {
    const nonces = this.owners.get(owner);
    if (nonces === undefined) return now;
    return Math.max(now, nonces.nothingExpiresBefore);
  }

  get maxPerOwner(): number {
    return this.maxPerOwnerEntries;
  }

  get size(): number {
    return this.entries;
  }

  /** Nonces remembered for `owner` (expired ones not yet swept included). */
  sizeOf(owner: string): number {
    return this.owners.get(owner)?.expiries.size ?? 0;
  }

  /** How many requests were turned away because the whole window was full. */
  get refusedWhileFull(): number {
    return this.fullCount;
  }

  /** How many requests were turned away because their owner was at its own bound. */
  get refusedOverOwnerBound(): number {
    return this.ownerFullCount;
  }

  private remove(owner: string, nonces: OwnerNonces, nonce: string): void {
    if (!nonces.expiries.delete(nonce)) return;
    this.entries -= 1;
    if (nonces.expiries.size === 0) this.owners.delete(owner);
  }

  /** Frees the owner's expired nonces; the owner record goes when nothing is left. */
  private sweepOwner(owner: string, nonces: OwnerNonces, now: number): void {
    // An owner at its bound with long-lived nonces would otherwise cost a scan of them per request.
    if (now < nonces.nothingExpiresBefore) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [nonce, expiry] of nonces.expiries) {
      if (expiry <= now) {
        nonces.expiries.delete(nonce);
        this.entries -= 1;
      } else if (expiry < earliest) earliest = expiry;
    }
    nonces.nothingExpiresBefore = earliest;
    if (nonces.expiries.size === 0) this.owners.delete(owner);
  }

  private sweep(now: number): void {
    // A full window of long-lived nonces would otherwise cost a whole scan per request.
    if (now < this.nothingExpiresBefore) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [owner, nonces] of this.owners) {
      this.sweepOwner(owner, nonces, now);
      if (nonces.expiries.size > 0 && nonces.nothingExpiresBefore < earliest) earliest = nonces.nothingExpiresBefore;
    }
    this.nothingExpiresBefore = earliest;
  }
}

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value >= 1;
}
