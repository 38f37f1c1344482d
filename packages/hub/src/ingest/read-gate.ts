/**
 * Flow control for one ingest connection: stops reading the socket while the hub must hold intake
 * (committer saturated, or too much of this connection in flight) and resumes when it may, keeping the
 * registry's paused-connections gauge right. It also keeps the clock for slow senders. An unfinished
 * frame or line is a stall when no byte has arrived for the limit (a silent sender), or when it has
 * been pending for four times the limit in all (a trickling one). Measuring progress rather than only
 * age matters when the hub itself is slow to read — e.g. PGlite commits running on this thread — and
 * the clock does not run while we hold the socket ourselves.
 */
import type { Socket } from 'node:net';
import type { ConnectionRegistry } from './connection-registry.js';

export class ReadGate {
  private held = false;
  private partialSince: number | undefined;
  private lastProgressAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly registry: ConnectionRegistry,
    /** True while intake must be held for this connection. */
    private readonly mustHold: () => boolean,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Records how many bytes of an unfinished frame or line are buffered after a read. */
  notePending(pendingBytes: number): void {
    const now = Date.now();
    this.lastProgressAt = now;
    this.partialSince = pendingBytes > 0 ? (this.partialSince ?? now) : undefined;
  }

  /** True when a partial frame or line is stalled (see the header) while we were reading. */
  stalledLongerThan(now: number, limitMs: number): boolean {
    if (this.held || this.partialSince === undefined) return false;
    return now - this.lastProgressAt > limitMs || now - this.partialSince > 4 * limitMs;
  }

  holdIfNeeded(readingDone: boolean): void {
    if (this.held || readingDone || !this.mustHold()) return;
    this.held = true;
    this.socket.pause();
    this.registry.pausedChanged(1);
  }

  releaseIfPossible(readingDone: boolean): void {
    if (!this.held || this.mustHold()) return;
    this.held = false;
    this.registry.pausedChanged(-1);
    if (this.partialSince !== undefined) this.partialSince = this.lastProgressAt = Date.now();
    if (!readingDone) this.socket.resume();
  }

  /** The socket closed: drop out of the paused gauge. */
  closed(): void {
    if (this.held) this.registry.pausedChanged(-1);
    this.held = false;
  }
}
