/**
 * Who may hold a listener's places. The listener's bound (`--max-connections`) alone lets one address
 * take every place with idle connections and turn every device away. So, per listener:
 * - one client address (IPv4 as is, IPv6 by its /64, see pipeline/dead-letter-budget.ts) holds at most
 *   `maxPerAddress` connections; a new one beyond it is closed at once and counted;
 * - when the listener nears its bound (past `reapAt`), the oldest connections that have not proved
 *   anything yet (native: no authentic frame; legacy: no AUTH; HTTP: no request in progress, i.e. idle
 *   keep-alive or never used) are closed to make room, and counted. Connections that authenticated are
 *   never reaped, so a genuine device, once in, stays; and one arriving during a flood still gets a place.
 * Transport-neutral: the listener says when a connection has proved itself (`pin`) or is busy (`busy`).
 */
import type { Socket } from 'node:net';
import { peerKey } from '../pipeline/dead-letter-budget.js';
import type { SourceKind } from '../pipeline/ports.js';
import { describePeer } from './peer.js';

/** What the guard reports (observability/metrics.ts implements it). */
export interface ConnectionGuardMetrics {
  /** A new connection closed at once: its address already held its share of the listener. */
  refusedPerAddress(source: SourceKind): void;
  /** An unauthenticated or idle connection closed to make room near the listener's bound. */
  reaped(source: SourceKind): void;
}

export interface ConnectionGuardOptions {
  readonly source: SourceKind;
  /** The listener's bound (`--max-connections`). */
  readonly maxConnections: number;
  /** Connections one address (IPv6: one /64) may hold on this listener. */
  readonly maxPerAddress: number;
  readonly metrics: ConnectionGuardMetrics;
}

/** The default share of a listener one address may hold: a quarter (as its share of the dead-letter budget). */
export function defaultMaxPerAddress(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

/** Where reaping starts: a tenth of the bound (at least one place) is kept free for newcomers. */
export function reapThreshold(maxConnections: number): number {
  return Math.max(1, maxConnections - Math.max(1, Math.floor(maxConnections / 10)));
}

interface Entry {
  readonly key: string;
  /** Proved itself (authentic frame, AUTH, upgraded live link): never reaped. */
  pinned: boolean;
  /** Requests in progress (HTTP): not idle while above zero. */
  busy: number;
}

export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  /** Insertion order is age: reaping takes the oldest first. */
  private readonly open = new Map<Socket, Entry>();
  private readonly reapAt: number;

  constructor(private readonly options: ConnectionGuardOptions) {
    this.reapAt = reapThreshold(options.maxConnections);
  }

  /**
   * Called first for every accepted connection. False: the address is over its share, and the socket
   * has been destroyed and counted. True: the connection is tracked until it closes, and older idle ones
   * may have been reaped to keep room.
   */
  admit(socket: Socket): boolean {
    const key = peerKey(describePeer(socket));
    const held = this.perAddress.get(key) ?? 0;
    if (held >= this.options.maxPerAddress) {
      this.options.metrics.refusedPerAddress(this.options.source);
      socket.destroy();
      return false;
    }
    this.perAddress.set(key, held + 1);
    this.open.set(socket, { key, pinned: false, busy: 0 });
    socket.once('close', () => this.release(socket));
    if (this.open.size > this.reapAt) this.reap(socket);
    return true;
  }

  /** The connection proved itself: it is never reaped. */
  pin(socket: Socket): void {
    const entry = this.open.get(socket);
    if (entry !== undefined) entry.pinned = true;
  }

  /** A request started (+1) or ended (-1) on the connection: idle only at zero. */
  busy(socket: Socket, delta: 1 | -1): void {
    const entry = this.open.get(socket);
    if (entry !== undefined) entry.busy = Math.max(0, entry.busy + delta);
  }

  get size(): number {
    return this.open.size;
  }

  /** Connections held by one address (its key), for tests and diagnostics. */
  heldBy(socket: Socket): number {
    return this.perAddress.get(peerKey(describePeer(socket))) ?? 0;
  }

  private release(socket: Socket): void {
    const entry = this.open.get(socket);
    if (entry === undefined) return;
    this.open.delete(socket);
    const held = (this.perAddress.get(entry.key) ?? 1) - 1;
    if (held <= 0) this.perAddress.delete(entry.key);
    else this.perAddress.set(entry.key, held);
  }

  /** Closes the oldest idle, unauthenticated connections (never `newcomer`) until the listener is back at reapAt. */
  private reap(newcomer: Socket): void {
    let excess = this.open.size - this.reapAt;
    for (const [socket, entry] of this.open) {
      if (excess <= 0) return;
      if (socket === newcomer || entry.pinned || entry.busy > 0) continue;
      // Forgotten now, not on its close event, so the next newcomer sees the place as free.
      this.release(socket);
      socket.destroy();
      this.options.metrics.reaped(this.options.source);
      excess -= 1;
    }
  }
}
