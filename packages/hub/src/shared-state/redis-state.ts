/**
 * The connection to Redis that several hubs share their replay and nonce windows through. Commands
 * fail at once while Redis is away (no offline queue, bounded command time) so that callers can fail
 * closed - refuse replay-sensitive input as `state_unavailable` - instead of waiting or, worse,
 * accepting it unchecked. ioredis reconnects by itself with a capped backoff. Commands of one tick are
 * auto-pipelined, so concurrent checks cost one round trip, not one each.
 */
import { Redis } from 'ioredis';
import { StateUnavailableError } from '../pipeline/shared-state-ports.js';

export { StateUnavailableError };

export interface RedisStateOptions {
  readonly url: string;
  /** Prefix of every key, so clusters (or test runs) can share one Redis. */
  readonly keyPrefix: string;
  /** Longest a command may take before it is treated as a failure. */
  readonly commandTimeoutMs: number;
  readonly onError?: (error: Error) => void;
}

export class RedisState {
  readonly redis: Redis;

  constructor(private readonly options: RedisStateOptions) {
    this.redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      // Commands issued in one tick (the checks of many frames arriving together) go out as one write.
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
    });
    // Without a listener ioredis reports every failed reconnect as an unhandled error.
    this.redis.on('error', (error: Error) => options.onError?.(error));
  }

  /** Connects once; a Redis that is down at start is an error the app reports (it keeps retrying after). */
  async connect(): Promise<void> {
    await this.redis.connect();
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Runs a command batch, turning every Redis failure into StateUnavailableError. */
  async run<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') throw new StateUnavailableError(`Redis is ${this.redis.status}`);
    try {
      return await work(this.redis);
    } catch (error) {
      throw new StateUnavailableError(error instanceof Error ? error.message.slice(0, 200) : 'command failed');
    }
  }

  async ping(): Promise<void> {
    await this.run((redis) => redis.ping());
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
