/**
 * An api node's view of what the writers committed: its own bounded queue on the committed fanout
 * exchange (exclusive, gone with the node; beyond `maxQueuedMessages` the broker drops the oldest, so
 * a stalled node sheds live data rather than growing the broker; bounded in bytes as well), decoded and handed to the live sink.
 * Live views are best effort by design; the store stays the truth and the dashboard back-fills from it.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { CommitBatch, LiveSink } from '../pipeline/ports.js';
import { decodeCommittedMessage } from './bus-batch-codec.js';
import { BusConnection } from './bus-connection.js';
import { busNames } from './bus-topology.js';

/** Header of a committed-feed message: when the writer's commit ended, in ms (the AMQP timestamp is in s). */
export const COMMITTED_AT_HEADER = 'x-sealstream-committed-ms';

export interface BusCommittedFeedOptions {
  readonly url: string;
  readonly prefix: string;
  readonly instance: string;
  readonly maxQueuedMessages: number;
  /** Bound of the queue in bytes too: one message may carry many readings. */
  readonly maxQueuedBytes: number;
  readonly sink: LiveSink;
  /** Every batch as it arrives, before the sink (the api node's rates count readings and refusals). */
  readonly onBatch?: (batch: CommitBatch, committedAt: number) => void;
  /** A message that could not be decoded (counted by the caller). */
  readonly onMalformed?: () => void;
  readonly onError?: (error: Error) => void;
  /** A reconnect attempt failed (throttled, see BusConnection). */
  readonly onConnectFailed?: (description: string, suppressed: number) => void;
}

export class BusCommittedFeed {
  private connection: BusConnection | undefined;
  private channel: Channel | undefined;
  private closing = false;

  private constructor(private readonly options: BusCommittedFeedOptions) {}

  static async open(options: BusCommittedFeedOptions): Promise<BusCommittedFeed> {
    const feed = new BusCommittedFeed(options);
    feed.connection = await BusConnection.open({
      url: options.url,
      name: `sealstream api ${options.instance}`,
      setup: (model) => feed.setup(model),
      onDown: () => undefined,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.onConnectFailed === undefined ? {} : { onConnectFailed: options.onConnectFailed }),
    });
    return feed;
  }

  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.connection?.close();
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => this.options.onError?.(error));
    // Closed or cancelled by the broker (queue deleted): a new connection runs this setup again.
    channel.on('close', () => this.lost(channel, 'channel closed'));
    this.channel = channel;
    const names = busNames(this.options.prefix);
    await channel.assertExchange(names.committed, 'fanout', { durable: true });
    const queue = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: {
        'x-max-length': this.options.maxQueuedMessages,
        'x-max-length-bytes': this.options.maxQueuedBytes,
        'x-overflow': 'drop-head',
      },
    });
    await channel.bindQueue(queue.queue, names.committed, '');
    await channel.consume(
      queue.queue,
      (message) => (message === null ? this.lost(channel, 'consumer cancelled') : this.receive(message)),
      { noAck: true },
    );
  }

  private lost(channel: Channel, what: string): void {
    if (this.channel !== channel || this.closing) return;
    this.channel = undefined;
    this.options.onError?.(new Error(`committed feed: ${what} by the broker; reconnecting`));
    this.connection?.reopen();
  }

  private receive(message: ConsumeMessage): void {
    try {
      const batch = decodeCommittedMessage(message.content);
      const exact = message.properties.headers?.[COMMITTED_AT_HEADER] as unknown;
      const committedAt =
        typeof exact === 'number' && Number.isFinite(exact)
          ? exact
          : typeof message.properties.timestamp === 'number'
            ? message.properties.timestamp * 1000
            : Date.now();
      this.options.onBatch?.(batch, committedAt);
      if (batch.readings.length > 0) this.options.sink.committed(batch.readings, committedAt);
      if (batch.deadLetters.length > 0) this.options.sink.rejected(batch.deadLetters);
    } catch {
      this.options.onMalformed?.();
    }
  }
}
