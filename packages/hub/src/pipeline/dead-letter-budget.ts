/**
 * The per-second dead-letter budget, shared fairly between peers. One flooding client used to take the
 * whole hub-wide budget every second, so a victim's tampered frames were counted but their bytes, the
 * evidence, were not kept.
 *
 * The rule: within each one-second window, a peer may keep a letter only while the letters it kept in
 * that window are fewer than a quarter of the budget still left in it (`kept × 4 < left`). A lone
 * flooder therefore keeps at most a fifth of the budget; every later peer again gets up to a quarter of
 * what is left, and any peer's first letter of a window is kept as long as anything is left. With k
 * peers flooding from the start of a window, each keeps about budget / (k + 4) and the rest stays for
 * the others. The hub-wide total never exceeds the budget.
 *
 * A peer is a client address without its port (a flooder opening many connections is one peer); an
 * IPv6 address counts by its /64 (one host usually holds a whole /64), an IPv4-mapped IPv6 address as
 * its IPv4 address. Anything else (e.g. 'unknown:0') is its own peer.
 *
 * Bound and overflow policy: the window's map holds only peers that kept a letter in it (so at most the
 * budget's number) and at most MAX_TRACKED_PEERS; beyond that, new peers share one overflow entry (and
 * so one share). The map is emptied when a new window starts.
 */

/** Distinct peers tracked in one window; later newcomers share one entry. */
export const MAX_TRACKED_PEERS = 4096;
/** A peer keeps a letter while its letters in the window × this are below the budget left. */
const SHARE_DIVISOR = 4;
/** Cannot be a peer key: keys are addresses or the peer text before its last ':'. */
const OVERFLOW_KEY = '\u0000overflow';

export class FairDeadLetterBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private keptInWindow = 0;
  private readonly keptByPeer = new Map<string, number>();
  // Refusals come in runs from one peer (a frame's readings, a flood on one connection): parse once.
  private lastPeer: string | undefined;
  private lastKey = '';

  constructor(private readonly maxPerSecond: number) {}

  /** True, and counted, when a letter of `peer` refused at `at` (ms) may be kept; false when over budget. */
  take(peer: string, at: number): boolean {
    if (at - this.windowStart >= 1000) {
      this.windowStart = at;
      this.keptInWindow = 0;
      this.keptByPeer.clear();
    }
    const left = this.maxPerSecond - this.keptInWindow;
    if (left <= 0) return false;
    let key = this.keyOf(peer);
    let kept = this.keptByPeer.get(key);
    if (kept === undefined && this.keptByPeer.size >= MAX_TRACKED_PEERS) {
      key = OVERFLOW_KEY;
      kept = this.keptByPeer.get(key);
    }
    const before = kept ?? 0;
    if (before * SHARE_DIVISOR >= left) return false;
    this.keptByPeer.set(key, before + 1);
    this.keptInWindow += 1;
    return true;
  }

  /** Peers holding an entry in the current window (for tests of the bound). */
  get trackedPeers(): number {
    return this.keptByPeer.size;
  }

  private keyOf(peer: string): string {
    if (peer !== this.lastPeer) {
      this.lastPeer = peer;
      this.lastKey = peerKey(peer);
    }
    return this.lastKey;
  }
}

/**
 * The address part of a peer description ('1.2.3.4:5678', '[::1]:5678'; see ingest/peer.ts) that the
 * budget shares by: IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as IPv4.
 */
export function peerKey(peer: string): string {
  if (peer.startsWith('[')) {
    const end = peer.indexOf(']');
    return ipv6Key(end < 0 ? peer.slice(1) : peer.slice(1, end));
  }
  const colon = peer.lastIndexOf(':');
  const address = colon < 0 ? peer : peer.slice(0, colon);
  // A bare IPv6 address (no brackets, so no port) has several colons.
  return address.includes(':') ? ipv6Key(peer) : address;
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;
const HEXTET = /^[0-9a-f]{1,4}$/i;

/** The first four groups of an IPv6 address, canonical (so spellings of one /64 agree); else the text. */
function ipv6Key(address: string): string {
  const bare = address.split('%', 1)[0] ?? address; // zone id: the same host
  const mapped = MAPPED_IPV4.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  const halves = bare.split('::');
  if (halves.length > 2) return bare;
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':');
  let groups = head;
  if (head.length < 4) {
    if (halves.length === 1) return bare; // fewer than 8 groups without '::': not an address
    const tail = halves[1] === '' || halves[1] === undefined ? [] : halves[1].split(':');
    // An embedded dotted quad at the end fills two groups.
    const tailGroups = tail.length + (tail.at(-1)?.includes('.') === true ? 1 : 0);
    const zeros = 8 - head.length - tailGroups;
    if (zeros < 1) return bare;
    groups = [...head, ...Array<string>(zeros).fill('0'), ...tail];
  }
  const prefix = groups.slice(0, 4);
  if (!prefix.every((group) => HEXTET.test(group))) return bare;
  return prefix.map((group) => parseInt(group, 16).toString(16)).join(':') + '::/64';
}
