/**
 * An api node's view of what the writers committed: its own bounded queue on the committed fanout
 * exchange (exclusive, gone with the node; beyond `maxQueuedMessages` the broker drops the oldest, so
 * a stalled node sheds live data rather than growing the broker), decoded and handed to the live sink.
 * Live views are best effort by design; the store stays the truth and the dashboard back-fills from it.
 */
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { CommitBatch, LiveSink } from '../pipeline/ports.js';
import { decodeCommittedMessage } from './bus-batch-codec.js';
import { BusConnection } from './bus-connection.js';
import { busNames } from './bus-topology.js';

export interface BusCommittedFeedOptions {
  readonly url: string;
  readonly prefix: string;
  readonly instance: string;
  readonly maxQueuedMessages: number;
  readonly sink: LiveSink;
  /** Every batch as it arrives, before the sink (the api node's rates count readings and refusals). */
  readonly onBatch?: (batch: CommitBatch, committedAt: number) => void;
  /** A message that could not be decoded (counted by the caller). */
  readonly onMalformed?: () => void;
  readonly onError?: (error: Error) => void;
}

export class BusCommittedFeed {
  private connection: BusConnection | undefined;

  private constructor(private readonly options: BusCommittedFeedOptions) {}

  static async open(options: BusCommittedFeedOptions): Promise<BusCommittedFeed> {
    const feed = new BusCommittedFeed(options);
    feed.connection = await BusConnection.open({
      url: options.url,
      name: `sealstream api ${options.instance}`,
      setup: (model) => feed.setup(model),
      onDown: () => undefined,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    return feed;
  }

  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => this.options.onError?.(error));
    const names = busNames(this.options.prefix);
    await channel.assertExchange(names.committed, 'fanout', { durable: true });
    const queue = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: { 'x-max-length': this.options.maxQueuedMessages, 'x-overflow': 'drop-head' },
    });
    await channel.bindQueue(queue.queue, names.committed, '');
    await channel.consume(queue.queue, (message) => this.receive(message), { noAck: true });
  }

  private receive(message: ConsumeMessage | null): void {
    if (message === null) return;
    try {
      const batch = decodeCommittedMessage(message.content);
      const committedAt =
        typeof message.properties.timestamp === 'number' ? message.properties.timestamp * 1000 : Date.now();
      this.options.onBatch?.(batch, committedAt);
      if (batch.readings.length > 0) this.options.sink.committed(batch.readings, committedAt);
      if (batch.deadLetters.length > 0) this.options.sink.rejected(batch.deadLetters);
    } catch {
      this.options.onMalformed?.();
    }
  }
}
