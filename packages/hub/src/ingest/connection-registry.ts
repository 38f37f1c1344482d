/**
 * Tracks open ingest connections for one listener: pauses and resumes them together when the
 * committer crosses its high-water mark, sweeps them for stalled partial frames (slow senders), and
 * closes them all on shutdown.
 */
import type { Socket } from 'node:net';
import type { PipelineMetrics, SourceKind } from '../pipeline/ports.js';

export interface TrackedConnection {
  readonly socket: Socket;
  /** Called by the registry when backpressure lifts; the connection decides whether to resume. */
  readonly onDrain: () => void;
  /** Called every sweep; returns true when the connection should be dropped as stalled. */
  readonly isStalled: (now: number) => boolean;
  readonly onStalled: () => void;
  readonly close: () => Promise<void>;
}

export class ConnectionRegistry {
  private readonly connections = new Set<TrackedConnection>();
  private pausedCount = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly source: SourceKind,
    private readonly metrics: PipelineMetrics,
    sweepIntervalMs = 1000,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweepTimer.unref();
  }

  add(connection: TrackedConnection): void {
    this.connections.add(connection);
    this.metrics.connectionOpened(this.source);
  }

  remove(connection: TrackedConnection): void {
    if (this.connections.delete(connection)) this.metrics.connectionClosed(this.source);
  }

  /** Bookkeeping for the paused-connections gauge. */
  pausedChanged(delta: 1 | -1): void {
    this.pausedCount += delta;
    this.metrics.pausedConnections(this.pausedCount);
  }

  drain(): void {
    for (const connection of this.connections) connection.onDrain();
  }

  get size(): number {
    return this.connections.size;
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweepTimer);
    await Promise.all([...this.connections].map((connection) => connection.close()));
  }

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections) if (connection.isStalled(now)) connection.onStalled();
  }
}
