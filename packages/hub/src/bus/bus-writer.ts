/**
 * The writer's side of the bus: consumes the partition queues (one active consumer per partition across
 * all writers, so a device's readings are committed in order by one writer), group-commits what has
 * arrived while the previous commit ran, and only then answers: a commit notice to the gateway that
 * published each batch, the committed readings to the live feed, and the broker ack. Up to
 * `concurrency` commits run at once, as in one process (their fsyncs overlap), but never two holding
 * batches of the same partition: a commit takes only partitions no other commit holds, so each
 * partition's batches still commit one after the other, in queue order. A writer killed
 * before its ack leaves the batches in their queue; the next writer commits them again and the
 * (device, seq) identity turns them into duplicates.
 *
 * A batch the store refuses for one row's data is committed alone, and when refused alone answered with
 * a refused notice so its gateway splits it (see `isolate`); it never goes to the retry or dead queue.
 * A batch whose commit fails otherwise is rejected into the retry exchange and comes back after the retry delay;
 * after `maxAttempts` it is moved to the dead queue with its reason in a header. A message that is not
 * a batch at all goes to the dead queue at once. Bound: `prefetch` unacknowledged batches per partition.
 *
 * A channel the broker closes, or a consumer it cancels (its queue deleted), makes the writer drop its
 * connection so recovery declares and consumes everything again.
 *
 * Sharing partitions: single active consumer makes the first writer to subscribe active on every
 * partition (RabbitMQ 3.10 has no consumer priorities for it). Every `rebalanceIntervalMs` a writer
 * counts the writers (consumers of <p>.writers) and, when it is active on more partitions than its fair
 * share (ceil(partitions / writers)), cancels and re-subscribes its consumer of one partition that has
 * nothing unacknowledged (so no commit in flight): the broker then makes the next waiting writer active
 * there. One handover per period per writer, only with nothing in flight, so per-partition order holds;
 * the one gap is a batch the broker sends within the cancel's round trip, which this writer still
 * commits while the next may start on later ones (the (device, seq) identity keeps the data right).
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type {
  CommitBatch,
  CommitResult,
  DeadLetter,
  PipelineMetrics,
  RefusalCount,
  SignalSummaryRow,
  VerifiedReading,
} from '../pipeline/ports.js';
import { storeErrorCodeOf } from '../pipeline/store-error.js';
import {
  BusCodecError,
  decodeBusBatch,
  encodeBusBatch,
  encodeCommitNotice,
  encodeNoticeBundle,
  NOTICE_BUNDLE_HEADER,
  NOTICE_BUNDLE_TYPE,
  type BundledNotice,
  encodeCommittedBundle,
  encodeRefusedNotice,
} from './bus-batch-codec.js';
import { BusConnection } from './bus-connection.js';
import { COMMITTED_AT_HEADER } from './bus-committed-feed.js';
import { DEAD_PARTITION_HEADER } from './bus-dead-redrive.js';
import { declareBusTopology, type BusNames, type BusTopologyOptions } from './bus-topology.js';

/** The one thing a writer needs from the store. */
export interface BatchCommitter {
  commit(batch: CommitBatch): Promise<CommitResult>;
}

export interface BusWriterOptions extends BusTopologyOptions {
  readonly url: string;
  readonly instance: string;
  readonly store: BatchCommitter;
  /** Unacknowledged batches per partition consumer. */
  readonly prefetch: number;
  /** Rows one commit takes at most (several batches are merged up to it). */
  readonly maxBatchRows: number;
  /** Commits in flight at once (on disjoint partitions); default 1. */
  readonly concurrency?: number;
  /** Commit attempts per batch before it is moved to the dead queue. */
  readonly maxAttempts: number;
  /**
   * Where each store commit is counted, as the single process's committer counts its own (rows, dead
   * letters and seconds per commit; failed attempts): the commit figures of a cluster are the writers'.
   */
  readonly metrics?: Pick<PipelineMetrics, 'batchCommitted' | 'commitFailed'>;
  /** After each commit, with the readings that were new (and the whole batch committed); must not throw. */
  readonly onCommitted?: (readings: readonly VerifiedReading[], committedAt: number, batch: CommitBatch) => void;
  /** A batch moved to the dead queue: why, and the message's bytes (to keep as a dead letter). */
  readonly onGiveUp?: (partition: number, detail: string, content: Buffer, reason: string) => void;
  readonly onError?: (error: Error) => void;
  /** A reconnect attempt failed (throttled, see BusConnection). */
  readonly onConnectFailed?: (description: string, suppressed: number) => void;
  /** Bound of the start (BusConnection's default otherwise). */
  readonly startTimeoutMs?: number;
  /** How often the writer checks its share of partitions; 5 s by default. */
  readonly rebalanceIntervalMs?: number;
  /** A partition this writer handed over to the next waiting writer. */
  readonly onHandover?: (partition: number, writers: number) => void;
}

/** How often a writer checks whether it holds more than its share of partitions, by default. */
export const REBALANCE_INTERVAL_MS = 5_000;

interface Delivery {
  readonly message: ConsumeMessage;
  readonly channel: ConfirmChannel;
  readonly partition: number;
  readonly batch: CommitBatch;
}

export class BusWriter {
  private channel: ConfirmChannel | undefined;
  private names: BusNames | undefined;
  private waiting: Delivery[] = [];
  /** Commits in flight, and the partitions they hold (no other commit takes a batch of those). */
  private inFlight = 0;
  private readonly held = new Set<number>();
  private pumpScheduled = false;
  private connection: BusConnection | undefined;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** Per partition, on the current channel: consumer tag, last delivery, batches not yet acknowledged. */
  private readonly consumers = new Map<number, string>();
  private readonly lastDelivery = new Map<number, number>();
  private readonly outstanding = new Map<number, number>();
  private rebalancing = false;
  private rebalanceTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: BusWriterOptions) {}

  private get rebalanceIntervalMs(): number {
    return this.options.rebalanceIntervalMs ?? REBALANCE_INTERVAL_MS;
  }

  static async open(options: BusWriterOptions): Promise<BusWriter> {
    const writer = new BusWriter(options);
    writer.connection = await BusConnection.open({
      url: options.url,
      name: `sealstream writer ${options.instance}`,
      setup: (model) => writer.setup(model),
      onDown: () => writer.down(),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.onConnectFailed === undefined ? {} : { onConnectFailed: options.onConnectFailed }),
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    });
    writer.rebalanceTimer = setInterval(() => void writer.rebalance(), writer.rebalanceIntervalMs);
    writer.rebalanceTimer.unref();
    return writer;
  }

  get connected(): boolean {
    return this.channel !== undefined && (this.connection?.connected ?? false);
  }

  /** Stops consuming, finishes the commit in flight, and closes. Unacknowledged batches go back to their queues. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.rebalanceTimer);
    if (this.inFlight > 0 || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.connection?.close();
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => this.options.onError?.(error));
    channel.on('close', () => this.lost(channel, 'channel closed'));
    const names = await declareBusTopology(channel, this.options);
    await channel.assertQueue(names.writers, { durable: true, arguments: { 'x-max-length': 0 } });
    await channel.prefetch(this.options.prefetch, false);
    // Before consuming: a delivery is answered only on the channel that is current when its commit ends.
    this.names = names;
    this.channel = channel;
    this.consumers.clear();
    this.lastDelivery.clear();
    this.outstanding.clear();
    await channel.consume(names.writers, () => undefined, { noAck: true });
    for (let partition = 0; partition < this.options.partitions; partition += 1) {
      await this.subscribe(channel, names, partition);
    }
  }

  private async subscribe(channel: ConfirmChannel, names: BusNames, partition: number): Promise<void> {
    const { consumerTag } = await channel.consume(
      names.partitionQueue(partition),
      (message) => this.deliver(channel, partition, message),
      { noAck: false },
    );
    if (channel === this.channel) this.consumers.set(partition, consumerTag);
  }

  /** The broker closed our channel or cancelled a consumer: a new connection runs setup again. */
  private lost(channel: ConfirmChannel, what: string): void {
    if (this.channel !== channel || this.closed) return;
    this.down();
    this.options.onError?.(new Error(`writer: ${what} by the broker; reconnecting`));
    this.connection?.reopen();
  }

  /**
   * Hands one partition to the next waiting writer when this one is active on more than its share
   * (see the header). Active means it delivered to us within two periods.
   */
  private async rebalance(): Promise<void> {
    const channel = this.channel;
    const names = this.names;
    if (channel === undefined || names === undefined || this.closed || this.rebalancing) return;
    this.rebalancing = true;
    try {
      const writers = Math.max(1, (await channel.checkQueue(names.writers)).consumerCount);
      const share = Math.ceil(this.options.partitions / writers);
      const since = Date.now() - 2 * this.rebalanceIntervalMs;
      const active = [...this.lastDelivery].filter(([, at]) => at >= since).map(([partition]) => partition);
      if (active.length <= share) return;
      const free = active.find((partition) => (this.outstanding.get(partition) ?? 0) === 0);
      const tag = free === undefined ? undefined : this.consumers.get(free);
      if (free === undefined || tag === undefined || channel !== this.channel) return;
      this.lastDelivery.delete(free);
      this.consumers.delete(free);
      await channel.cancel(tag);
      if (channel !== this.channel || this.closed) return;
      // At the end of the waiting line: the broker makes the next writer active on this partition.
      await this.subscribe(channel, names, free);
      this.options.onHandover?.(free, writers);
    } catch (error) {
      // The channel went (recovery rebuilds it) or the broker refused a check: next period tries again.
      if (!this.closed) this.options.onError?.(error instanceof Error ? error : new Error('rebalance failed'));
    } finally {
      this.rebalancing = false;
    }
  }

  private deliver(channel: ConfirmChannel, partition: number, message: ConsumeMessage | null): void {
    if (this.closed) return;
    if (message === null) {
      this.lost(channel, `consumer of partition ${partition} cancelled (queue deleted?)`);
      return;
    }
    if (channel === this.channel) {
      this.lastDelivery.set(partition, Date.now());
      this.outstanding.set(partition, (this.outstanding.get(partition) ?? 0) + 1);
    }
    let batch: CommitBatch;
    try {
      batch = decodeBusBatch(message.content);
    } catch (error) {
      const detail = error instanceof BusCodecError ? error.message : 'undecodable';
      void this.giveUp(channel, partition, message, 'bus_message_malformed', detail);
      return;
    }
    this.waiting.push({ message, channel, partition, batch });
    this.schedulePump();
  }

  /**
   * Starts commits after the current I/O callbacks: the deliveries of one socket read (often every part
   * of a gateway's batch) then join one commit instead of the first committing alone.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (this.inFlight < concurrency) {
      const taken = this.take();
      if (taken.length === 0) break;
      for (const delivery of taken) this.held.add(delivery.partition);
      this.inFlight += 1;
      void this.commitTaken(taken).finally(() => {
        for (const delivery of taken) this.held.delete(delivery.partition);
        this.inFlight -= 1;
        if (this.waiting.length > 0) this.schedulePump();
        else this.resolveIdleWaiters();
      });
    }
    this.resolveIdleWaiters();
  }

  private resolveIdleWaiters(): void {
    if (this.inFlight > 0 || this.waiting.length > 0) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private async commitTaken(taken: readonly Delivery[]): Promise<void> {
    const merged = merge(taken);
    let result: CommitResult | undefined;
    try {
      result = await this.timedCommit(merged);
    } catch (error) {
      if (storeErrorCodeOf(error) === 'store_refused_data') await this.isolate(taken, error);
      else await this.failed(taken, error);
    }
    if (result !== undefined) this.answer(taken, merged, result);
  }

  /**
   * The store refused the merged batch for one row's data: retrying would be refused again, and the
   * retry/dead queues are for outages. Each batch is committed alone; one refused even alone is answered
   * with a refused notice (and acknowledged), so its gateway's committer splits it down to the refused
   * row (pipeline/commit-splitter.ts) and sends the rest again.
   */
  private async isolate(taken: readonly Delivery[], firstError: unknown): Promise<void> {
    for (const delivery of taken) {
      let result: CommitResult | undefined;
      let error: unknown = taken.length === 1 ? firstError : undefined;
      if (error === undefined) {
        try {
          result = await this.timedCommit(delivery.batch);
        } catch (caught) {
          error = caught;
        }
      }
      if (result !== undefined) {
        this.answer([delivery], delivery.batch, result);
      } else if (storeErrorCodeOf(error) === 'store_refused_data') {
        this.refuse(delivery, error);
      } else {
        await this.failed([delivery], error);
      }
    }
  }

  /** One store commit, counted: its size and time when it succeeds, a failure when it does not. */
  private async timedCommit(batch: CommitBatch): Promise<CommitResult> {
    const started = performance.now();
    try {
      const result = await this.options.store.commit(batch);
      this.options.metrics?.batchCommitted(
        batch.readings.length,
        batch.deadLetters.length,
        (performance.now() - started) / 1000,
      );
      return result;
    } catch (error) {
      this.options.metrics?.commitFailed();
      throw error;
    }
  }

  private refuse(delivery: Delivery, error: unknown): void {
    if (delivery.channel !== this.channel) return; // redelivered elsewhere, refused there again
    const replyTo = delivery.message.properties.replyTo as unknown;
    if (typeof replyTo === 'string' && replyTo !== '') {
      const detail = error instanceof Error ? error.message : 'the store refused the batch';
      delivery.channel.sendToQueue(replyTo, encodeRefusedNotice(detail), {
        correlationId: delivery.message.properties.correlationId as string,
      });
    }
    delivery.channel.ack(delivery.message);
    this.release(delivery.partition);
  }

  /** One batch of `partition` acknowledged (or rejected) on the current channel. */
  private release(partition: number): void {
    this.outstanding.set(partition, Math.max(0, (this.outstanding.get(partition) ?? 0) - 1));
  }

  /**
   * The next commit's batches, in arrival order, up to maxBatchRows: the waiting batches of partitions no
   * commit in flight holds, of at most partitions/concurrency partitions (so the next commit finds work
   * of its own and the commits overlap, as in one process). A batch left behind stays, and so do the
   * later ones of its partition, which keeps each partition in order; a batch that would overflow the
   * commit ends it.
   */
  private take(): Delivery[] {
    const taken: Delivery[] = [];
    const kept: Delivery[] = [];
    const partitions = new Set<number>();
    const maxPartitions = Math.ceil(this.options.partitions / (this.options.concurrency ?? 1));
    let rows = 0;
    let index = 0;
    for (; index < this.waiting.length; index += 1) {
      const next = this.waiting[index] as Delivery;
      const joins = partitions.has(next.partition);
      if (!joins && (this.held.has(next.partition) || partitions.size >= maxPartitions)) {
        kept.push(next);
        continue;
      }
      const size = next.batch.readings.length + next.batch.deadLetters.length + (next.batch.signals?.length ?? 0);
      if (taken.length > 0 && rows + size > this.options.maxBatchRows) break;
      taken.push(next);
      partitions.add(next.partition);
      rows += size;
    }
    if (taken.length > 0) this.waiting = kept.concat(this.waiting.slice(index));
    return taken;
  }

  private answer(taken: readonly Delivery[], merged: CommitBatch, result: CommitResult): void {
    const committedAt = Date.now();
    const fresh: VerifiedReading[] = [];
    // What the live feed gets of each batch: its bytes as the gateway wrote them when all its readings
    // were new (the usual case: nothing to encode again), else the new ones with its dead letters.
    const feed: Buffer[] = [];
    // Notices for gateways that read bundles, one message per gateway (reply queue) for this commit.
    const bundles = new Map<string, { channel: Channel; notices: BundledNotice[] }>();
    let offset = 0;
    for (const delivery of taken) {
      const count = delivery.batch.readings.length;
      const inserted = result.inserted.slice(offset, offset + count);
      offset += count;
      const fresher = delivery.batch.readings.filter((_, i) => inserted[i] === true);
      for (const reading of fresher) fresh.push(reading);
      const { deadLetters, refusalCounts } = delivery.batch;
      const news = fresher.length + deadLetters.length + (refusalCounts?.length ?? 0);
      if (fresher.length === count && news > 0) feed.push(delivery.message.content);
      else if (news > 0) {
        feed.push(
          encodeBusBatch({
            readings: fresher,
            deadLetters,
            ...(refusalCounts === undefined ? {} : { refusalCounts }),
          }),
        );
      }
      if (delivery.channel !== this.channel) continue; // its channel is gone: the batch is redelivered (harmless)
      const replyTo = delivery.message.properties.replyTo as unknown;
      const correlationId = delivery.message.properties.correlationId as string;
      if (typeof replyTo !== 'string' || replyTo === '') continue;
      const headers = delivery.message.properties.headers as Record<string, unknown> | undefined;
      if (headers?.[NOTICE_BUNDLE_HEADER] !== undefined) {
        let bundle = bundles.get(replyTo);
        if (bundle === undefined) {
          bundle = { channel: delivery.channel, notices: [] };
          bundles.set(replyTo, bundle);
        }
        bundle.notices.push({ correlationId, inserted });
      } else {
        delivery.channel.sendToQueue(replyTo, encodeCommitNotice(inserted), { correlationId });
      }
    }
    for (const [replyTo, { channel, notices }] of bundles) {
      channel.sendToQueue(replyTo, encodeNoticeBundle(notices), { type: NOTICE_BUNDLE_TYPE });
    }
    const channel = this.channel;
    const first = feed[0];
    if (channel !== undefined && this.names !== undefined && first !== undefined) {
      // One batch goes as it is (any api node of the version before bundles reads it); more as a bundle.
      channel.publish(this.names.committed, '', feed.length === 1 ? first : encodeCommittedBundle(feed), {
        contentType: feed.length === 1 ? 'application/json' : 'application/octet-stream',
        timestamp: Math.floor(committedAt / 1000),
        // AMQP timestamps are whole seconds; api nodes time their live sends from the millisecond.
        headers: { [COMMITTED_AT_HEADER]: committedAt },
      });
    }
    for (const delivery of taken) {
      if (delivery.channel !== this.channel) continue;
      delivery.channel.ack(delivery.message);
      this.release(delivery.partition);
    }
    try {
      this.options.onCommitted?.(fresh, committedAt, merged);
    } catch {
      // a hook must never stop commits
    }
  }

  private async failed(taken: readonly Delivery[], error: unknown): Promise<void> {
    const detail = error instanceof Error ? error.message.slice(0, 200) : 'commit failed';
    for (const delivery of taken) {
      if (delivery.channel !== this.channel) continue;
      const attempts = rejections(delivery.message, this.names?.partitionQueue(delivery.partition) ?? '') + 1;
      if (attempts >= this.options.maxAttempts) {
        await this.giveUp(delivery.channel, delivery.partition, delivery.message, 'store_unavailable', detail);
      } else {
        delivery.channel.nack(delivery.message, false, false); // into the retry exchange, back after the delay
        this.release(delivery.partition);
      }
    }
  }

  private async giveUp(
    channel: ConfirmChannel,
    partition: number,
    message: ConsumeMessage,
    reason: string,
    detail: string,
  ): Promise<void> {
    const names = this.names;
    if (names === undefined) return;
    this.options.onGiveUp?.(partition, `${reason}: ${detail}`, message.content, reason);
    try {
      await publishConfirmed(channel, names.dead, message, {
        'x-sealstream-reason': reason,
        'x-sealstream-detail': detail,
        // Where a re-drive (bus-dead-redrive.ts) puts it back.
        [DEAD_PARTITION_HEADER]: String(partition),
      });
      channel.ack(message);
      if (channel === this.channel) this.release(partition);
    } catch {
      // the dead queue refused or the channel died: leave it unacknowledged, it is delivered again
    }
  }

  private down(): void {
    this.channel = undefined;
    this.waiting = this.waiting.filter((delivery) => delivery.channel === this.channel);
  }
}

/** How often the broker has dead-lettered this message out of `queue` because a writer rejected it. */
function rejections(message: ConsumeMessage, queue: string): number {
  const deaths = message.properties.headers?.['x-death'] as unknown;
  if (!Array.isArray(deaths)) return 0;
  let count = 0;
  for (const death of deaths as Array<Record<string, unknown>>) {
    if (death['queue'] === queue && death['reason'] === 'rejected' && typeof death['count'] === 'number') {
      count += death['count'];
    }
  }
  return count;
}

function publishConfirmed(
  channel: Channel & ConfirmChannel,
  exchange: string,
  message: ConsumeMessage,
  headers: Record<string, string>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      '',
      message.content,
      { persistent: true, headers: { ...(message.properties.headers ?? {}), ...headers } },
      (error: unknown) => (error === null || error === undefined ? resolve() : reject(new Error('refused'))),
    );
  });
}

function merge(taken: readonly Delivery[]): CommitBatch {
  const readings: VerifiedReading[] = [];
  const deadLetters: DeadLetter[] = [];
  const refusalCounts: RefusalCount[] = [];
  const signals: SignalSummaryRow[] = [];
  for (const { batch } of taken) {
    for (const reading of batch.readings) readings.push(reading);
    for (const letter of batch.deadLetters) deadLetters.push(letter);
    for (const count of batch.refusalCounts ?? []) refusalCounts.push(count);
    for (const signal of batch.signals ?? []) signals.push(signal);
  }
  return {
    readings,
    deadLetters,
    ...(refusalCounts.length === 0 ? {} : { refusalCounts }),
    ...(signals.length === 0 ? {} : { signals }),
  };
}
