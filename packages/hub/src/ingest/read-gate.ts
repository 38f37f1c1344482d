/**
 * Flow control for one ingest connection: stops reading the socket while the hub must hold intake
 * (committer saturated, or too much of this connection in flight) and resumes when it may, keeping the
 * registry's paused-connections gauge right. It also keeps the clock for slow senders: how long an
 * unfinished frame or line has been waiting — a clock that does not run while we hold the socket
 * ourselves, and restarts when we let go.
 */
import type { Socket } from 'node:net';
import type { ConnectionRegistry } from './connection-registry.js';

export class ReadGate {
  private held = false;
  private partialSince: number | undefined;

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
    this.partialSince = pendingBytes > 0 ? (this.partialSince ?? Date.now()) : undefined;
  }

  /** True when a partial frame or line has waited longer than `limitMs` while we were reading. */
  stalledLongerThan(now: number, limitMs: number): boolean {
    return !this.held && this.partialSince !== undefined && now - this.partialSince > limitMs;
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
    if (this.partialSince !== undefined) this.partialSince = Date.now();
    if (!readingDone) this.socket.resume();
  }

  /** The socket closed: drop out of the paused gauge. */
  closed(): void {
    if (this.held) this.registry.pausedChanged(-1);
    this.held = false;
  }
}
