/**
 * The gateway's side of the bus: it stands where the store stands in a single process (the committer
 * calls `commit`), splits each batch by device partition, publishes the parts with publisher confirms,
 * and resolves only when a writer's commit notice for every part has come back. So an ACK to a device
 * still means "committed in PostgreSQL". A part the broker refuses (queue full: reject-publish; no
 * route) or whose notice does not come in time fails the commit; the committer retries within its
 * deadline and the device resends after that, which the (device, seq) identity makes harmless.
 *
 * Bound: at most `maxPendingParts` parts await notices; beyond it a commit fails at once as bus_full
 * (the committer's queue then fills and ingest stops reading sockets: the usual backpressure).
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { CommitBatch, CommitResult } from '../pipeline/ports.js';
import { StoreError } from '../pipeline/store-error.js';
import {
  NOTICE_BUNDLE_HEADER,
  NOTICE_BUNDLE_TYPE,
  decodeCommitNotice,
  decodeNoticeBundle,
  encodeBusBatch,
  noticeBits,
  noticeRefusal,
} from './bus-batch-codec.js';
import { BusConnection } from './bus-connection.js';
import { BusError } from './bus-errors.js';
import { declareBusTopology, type BusNames, type BusTopologyOptions } from './bus-topology.js';
import { splitByPartition } from './partitioner.js';

export interface BusCommitClientOptions extends BusTopologyOptions {
  readonly url: string;
  /** This process, for the broker's connection list and correlation ids. */
  readonly instance: string;
  readonly noticeTimeoutMs: number;
  readonly maxPendingParts: number;
  readonly onError?: (error: Error) => void;
  /** A reconnect attempt failed (throttled, see BusConnection). */
  readonly onConnectFailed?: (description: string, suppressed: number) => void;
  /** Bound of the start (BusConnection's default otherwise). */
  readonly startTimeoutMs?: number;
}

interface PendingPart {
  readonly readings: number;
  readonly resolve: (inserted: boolean[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class BusCommitClient {
  private channel: ConfirmChannel | undefined;
  private replyQueue = '';
  private names: BusNames | undefined;
  private readonly pending = new Map<string, PendingPart>();
  private readonly returned = new Set<string>();
  private counter = 0;
  private connection: BusConnection | undefined;
  private readonly prefix = randomUUID().slice(0, 8);

  private constructor(private readonly options: BusCommitClientOptions) {}

  static async open(options: BusCommitClientOptions): Promise<BusCommitClient> {
    const client = new BusCommitClient(options);
    client.connection = await BusConnection.open({
      url: options.url,
      name: `sealstream gateway ${options.instance}`,
      setup: (model) => client.setup(model),
      onDown: (error) => client.down(error),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.onConnectFailed === undefined ? {} : { onConnectFailed: options.onConnectFailed }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    });
    return client;
  }

  get connected(): boolean {
    return this.channel !== undefined && (this.connection?.connected ?? false);
  }

  get pendingParts(): number {
    return this.pending.size;
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    const channel = this.channel;
    const names = this.names;
    if (channel === undefined || names === undefined)
      throw new BusError('bus_unavailable', 'not connected to RabbitMQ');
    const parts = splitByPartition(batch, this.options.partitions);
    if (this.pending.size + parts.length > this.options.maxPendingParts) {
      throw new BusError('bus_full', `${this.pending.size} batch parts await their commit notices`);
    }
    const answers = parts.map((part) => this.publish(channel, names, part.partition, part.batch));
    const results = await Promise.all(answers);
    const inserted = new Array<boolean>(batch.readings.length).fill(false);
    parts.forEach((part, k) => {
      const flags = results[k] ?? [];
      part.indexes.forEach((index, i) => (inserted[index] = flags[i] === true));
    });
    return { inserted };
  }

  async close(): Promise<void> {
    this.down(new Error('closing'));
    await this.connection?.close();
  }

  private publish(channel: ConfirmChannel, names: BusNames, partition: number, batch: CommitBatch): Promise<boolean[]> {
    const id = `${this.prefix}-${(this.counter += 1)}`;
    return new Promise<boolean[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id)?.reject(
          new BusError('bus_notice_timeout', `no commit notice within ${this.options.noticeTimeoutMs} ms`),
        );
      }, this.options.noticeTimeoutMs);
      timer.unref();
      this.pending.set(id, { readings: batch.readings.length, resolve, reject, timer });
      try {
        channel.publish(
          names.batches,
          String(partition),
          encodeBusBatch(batch),
          {
            persistent: true,
            mandatory: true,
            correlationId: id,
            messageId: id,
            replyTo: this.replyQueue,
            contentType: 'application/json',
            // This gateway reads notice bundles: a writer may answer many of its batches in one message.
            headers: { [NOTICE_BUNDLE_HEADER]: 1 },
          },
          (error: unknown) => {
            if (this.returned.delete(id)) {
              this.settle(id)?.reject(new BusError('bus_unroutable', `no queue for partition ${partition}`));
            } else if (error !== null && error !== undefined) {
              this.settle(id)?.reject(
                new BusError('bus_full', `the broker refused the batch (partition ${partition})`),
              );
            }
          },
        );
      } catch (error) {
        this.settle(id)?.reject(
          new BusError('bus_unavailable', error instanceof Error ? error.message : 'publish failed'),
        );
      }
    });
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => this.options.onError?.(error));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      // Closed by the broker (a channel error) while the connection may stay: a new one runs setup again.
      this.down(new Error('channel closed'));
      this.options.onError?.(new Error('gateway channel closed by the broker; reconnecting'));
      this.connection?.reopen();
    });
    channel.on('return', (message: ConsumeMessage) => {
      const id = message.properties.correlationId as unknown;
      if (typeof id === 'string') this.returned.add(id);
    });
    this.names = await declareBusTopology(channel, this.options);
    const reply = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await channel.consume(reply.queue, (message) => this.notice(message), { noAck: true });
    this.replyQueue = reply.queue;
    this.channel = channel;
  }

  private notice(message: ConsumeMessage | null): void {
    if (message === null) return;
    if (message.properties.type === NOTICE_BUNDLE_TYPE) {
      this.noticeBundle(message.content);
      return;
    }
    const id = message.properties.correlationId as unknown;
    if (typeof id !== 'string') return;
    const part = this.pending.get(id);
    if (part === undefined) return; // late: its commit already timed out and was retried
    const refusal = noticeRefusal(message.content);
    if (refusal !== undefined) {
      // Thrown as the store would: the committer splits the batch and sends the halves again.
      this.settle(id)?.reject(new StoreError('store_refused_data', refusal));
      return;
    }
    try {
      const inserted = decodeCommitNotice(message.content, part.readings);
      this.settle(id)?.resolve(inserted);
    } catch (error) {
      this.settle(id)?.reject(error instanceof Error ? error : new Error('bad notice'));
    }
  }

  /** The notices of one writer commit for several of this gateway's batches. */
  private noticeBundle(content: Buffer): void {
    let entries: ReturnType<typeof decodeNoticeBundle>;
    try {
      entries = decodeNoticeBundle(content);
    } catch (error) {
      // Nothing in it can be matched to a batch: those batches time out and are retried (harmless).
      this.options.onError?.(error instanceof Error ? error : new Error('bad notice bundle'));
      return;
    }
    for (const { correlationId, bits } of entries) {
      const part = this.pending.get(correlationId);
      if (part === undefined) continue; // late: its commit already timed out and was retried
      try {
        const inserted = noticeBits(bits, part.readings);
        this.settle(correlationId)?.resolve(inserted);
      } catch (error) {
        this.settle(correlationId)?.reject(error instanceof Error ? error : new Error('bad notice'));
      }
    }
  }

  private settle(id: string): PendingPart | undefined {
    const part = this.pending.get(id);
    if (part === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(part.timer);
    return part;
  }

  private down(error: Error): void {
    this.channel = undefined;
    for (const id of [...this.pending.keys()]) {
      this.settle(id)?.reject(new BusError('bus_unavailable', `connection lost (${error.message})`));
    }
    this.returned.clear();
  }
}
