/**
 * The messages between live-fanout-compare.ts and its child processes (writer, api nodes), over the
 * fork IPC channel, and the settings a child is started with (one JSON argument).
 */

export type FanoutArm = 'bus' | 'redis';

export interface TransportSettings {
  readonly arm: FanoutArm;
  /** RabbitMQ URL of the run's own vhost (bus arm). */
  readonly amqpUrl: string;
  /** Name prefix of the bus exchanges (bus arm). */
  readonly busPrefix: string;
  readonly redisHost: string;
  readonly redisPort: number;
  /** The adapter's and emitter's key (Redis channel prefix) of this run (Redis arm). */
  readonly redisKey: string;
}

export interface WriterSettings extends TransportSettings {
  /** Readings per second in the timed phase (and the warm-up). */
  readonly rate: number;
  readonly devices: number;
  /** A commit every this many ms. */
  readonly commitEveryMs: number;
}

/** Parent to writer. */
export type WriterCommand = { type: 'go'; warmupMs: number; seconds: number } | { type: 'stop' };

/** Writer to parent. */
export type WriterEvent =
  | { type: 'ready' }
  /** The warm-up ended: what follows is timed (readings with seq >= 0). */
  | { type: 'timed' }
  | {
      type: 'done';
      /** Readings committed in the timed phase. */
      sent: number;
      /** How long the timed phase's commits took (longer than asked when the writer fell behind). */
      elapsedMs: number;
      commits: number;
      /** Overview readings sent (latest per device per commit). */
      overviewSent: number;
      /** Readings per device in the timed phase. */
      perDevice: Record<string, number>;
      /** Room sends (emits) the writer made (Redis arm) or commit messages published (bus arm). */
      publishes: number;
      /** Commits published in the same turn as an earlier one: the writer was behind its schedule. */
      lateCommits: number;
      /** Publishes the transport refused until it drained (bus: amqplib's write buffer full), and the wait. */
      drainWaits: number;
      drainWaitMs: number;
    }
  | { type: 'error'; message: string };

/** Api node to parent. */
export type NodeEvent =
  | { type: 'listening'; port: number }
  | {
      type: 'totals';
      commitsIn: number;
      sends: number;
      malformed: number;
      /** Writer's publish to this node's broadcast of a room (first reading of each room send), ms. */
      hopP50Ms: number | null;
      hopP99Ms: number | null;
      /** The node's event loop over the phase: delay p99 and utilization (0..1). */
      loopDelayP99Ms: number;
      loopUtilization: number;
    }
  | { type: 'error'; message: string };

/** Parent to api node. */
export type NodeCommand = { type: 'totals' } | { type: 'stop' };

/** A subscriber's handshake `auth`: which rooms the api node puts it in. */
export interface SubscriberAuth {
  readonly overview: boolean;
  readonly devices: readonly string[];
}

export function deviceName(index: number): string {
  return `fan-${index}`;
}
