/**
 * The AMQP door for XRayIOT's producer, run unchanged: connects to RabbitMQ, asserts its topology,
 * consumes `xray.raw.q` with a bounded prefetch, and hands each message (headers as set, body bytes as
 * received) to the shared XRayIOT handling (ingest/xray). What happens to a message:
 *
 * - stored (readings and summary committed), or a broker redelivery (or retry-queue copy) of one
 *   already settled: ack. A redelivery whose first copy is still committing here is busy, not acked:
 *   the first copy may yet fail, with its channel gone;
 * - refused (bad signature, stale, replayed, not an XRayRawSignal...): counted and kept in the dead-letter
 *   store by the pipeline, published to `iot.dlx` / `xray.raw.fail` with the reason in the
 *   x-reject-reason header, and acked only once the broker confirmed that copy;
 * - busy (store down, commit queue full, nonce window full): a copy goes to the retry queue (back on
 *   `xray.raw.q` after the retry delay), acked once confirmed; if even that fails, nack with requeue.
 *   Nothing uncommitted is ever acked without a confirmed copy somewhere in the broker.
 *
 * A lost connection (broker down at start or mid-stream) is retried with exponential backoff (0.5 s
 * doubling to 30 s); meanwhile `state` is 'down' (/healthz reads `degraded`). Messages in flight when it
 * dropped come back redelivered; their readings dedupe. Copies from the retry queue (they carry
 * `x-retry-reason`) are treated as redeliveries: an earlier attempt's nonce may still be recorded (a
 * shared window that timed out after recording it), and that must not make them replays of themselves.
 * Bounds: at most `prefetch` messages in the hub per channel, and a byte budget across channels. A
 * consumer holds a delivery whole before it sees it, and the broker pushes up to the prefetch at once,
 * so with large bodies the prefetch alone allowed prefetch × RabbitMQ's max_message_size (4000 × 128 MiB
 * by default). Past `maxInHandBytes` of bodies taken and not yet settled, the consumer is cancelled (the
 * broker stops pushing; what it already sent still arrives) and consumes again once half is settled.
 *
 * Throughput: the deliveries of one event-loop turn are handled as one burst (xray-batch.ts): one
 * pipeline submission and one summary write for all of them, so a burst waits for one commit, not one
 * per message. Bursts are patient submissions (committer.ts): while one commit is in flight the next
 * bursts wait and go together, so commits hold ~1000 messages instead of one burst each. Acks go out with `multiple` up to the last delivery whose every predecessor is settled
 * (ack-tracker.ts), one frame for a whole burst instead of one per message.
 */
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { handleSignedBurst, type BurstAnswer } from '../xray/xray-batch.js';
import type { SignalAnswer, SignedMessageDeps } from '../xray/xray-ingest.js';
import { InFlightNonces } from '../xray/in-flight-nonces.js';
import { AckTracker } from './ack-tracker.js';
import { REJECT_DETAIL_HEADER, REJECT_REASON_HEADER, XRAY_TOPOLOGY, assertXrayTopology } from './xray-topology.js';

/** The signing time on AMQP: x-timestamp is the publish time there. */
export const AMQP_TIMESTAMP_HEADER = 'x-timestamp-auth';
const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const MAX_DETAIL_CHARS = 512;
/** Set on every copy the hub sends to the retry queue: marks it as a retry when it comes back. */
export const RETRY_REASON_HEADER = 'x-retry-reason';
/** Messages in flight across channels: a dropped channel's messages still finish (commit deadline). */
const IN_FLIGHT_PER_PREFETCH = 4;
const MIN_IN_FLIGHT = 1024;
/** Default byte budget of bodies in hand: 64 MiB is ~100K typical messages, far above the prefetch's. */
export const DEFAULT_MAX_IN_HAND_BYTES = 64 * 1_048_576;

export interface XrayConsumerMetrics {
  /** Messages and body bytes taken from the broker and not yet settled (acked, or nacked back). */
  inHand(messages: number, bytes: number): void;
  /** The byte budget was reached and the consumer paused. */
  paused(): void;
}

export interface XrayConsumerOptions {
  readonly url: string;
  readonly prefetch: number;
  readonly retryDelayMs: number;
  readonly deps: SignedMessageDeps;
  /** Body bytes in hand past which the consumer pauses (see the header). Default DEFAULT_MAX_IN_HAND_BYTES. */
  readonly maxInHandBytes?: number;
  readonly metrics?: XrayConsumerMetrics;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Told each settled message, for tests and metrics. */
  readonly onSettled?: (outcome: SignalAnswer['kind'] | 'retry_failed') => void;
}

export type BrokerState = 'connected' | 'down';

export class XrayAmqpConsumer {
  private connection: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private acks: AckTracker | null = null;
  private stopped = false;
  private backoffMs = BACKOFF_START_MS;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private connecting: Promise<void> | null = null;
  private consumerTag: string | null = null;
  /** Deliveries of the current event-loop turn, handled together at its end (at most `prefetch`). */
  private burst: ConsumeMessage[] = [];
  private burstChannel: { channel: ConfirmChannel; acks: AckTracker } | null = null;
  private readonly deps: SignedMessageDeps;
  private readonly maxInHandBytes: number;
  private inHandMessages = 0;
  private inHandBytes = 0;
  /** Whether the current channel has a consumer (false while paused, or before it consumed). */
  private consuming = false;
  /** A pause or resume under way on the channel (they are serialised: see reconcileFlow). */
  private flowChanging = false;
  private deliver: ((message: ConsumeMessage | null) => void) | null = null;

  constructor(private readonly options: XrayConsumerOptions) {
    this.maxInHandBytes = options.maxInHandBytes ?? DEFAULT_MAX_IN_HAND_BYTES;
    if (!Number.isSafeInteger(this.maxInHandBytes) || this.maxInHandBytes < 1) {
      throw new RangeError('maxInHandBytes must be a positive integer');
    }
    this.deps = {
      ...options.deps,
      inFlight:
        options.deps.inFlight ?? new InFlightNonces(Math.max(MIN_IN_FLIGHT, options.prefetch * IN_FLIGHT_PER_PREFETCH)),
    };
  }

  get state(): BrokerState {
    return this.channel === null ? 'down' : 'connected';
  }

  /** Messages taken and not yet settled, and their body bytes (across channels). */
  get inHand(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.inHandMessages, bytes: this.inHandBytes };
  }

  /** Whether the current channel has a consumer: false while the byte budget holds it paused, or down. */
  get isConsuming(): boolean {
    return this.consuming;
  }

  /** Deliveries on the current channel not yet acknowledged or nacked (0 when down). */
  get unacknowledged(): number {
    return this.channel === null ? 0 : (this.acks?.outstanding ?? 0);
  }

  /** Starts connecting; resolves at once (a broker down at start is retried in the background). */
  start(): void {
    this.connecting = this.connect();
  }

  /** Resolves when the first connection attempt (successful or not) is over. */
  async ready(): Promise<void> {
    await this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let connection: ChannelModel | null = null;
    try {
      connection = await amqp.connect(this.options.url);
      connection.on('error', () => undefined); // 'close' follows and carries the reconnect
      connection.on('close', () => this.lost(connection));
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => this.lost(connection));
      await assertXrayTopology(channel);
      await channel.prefetch(this.options.prefetch);
      if (this.stopped) {
        await connection.close().catch(() => undefined);
        return;
      }
      this.connection = connection;
      this.channel = channel;
      const acks = new AckTracker();
      this.acks = acks;
      this.consuming = false;
      this.consumerTag = null;
      this.deliver = (message) => {
        if (message === null) {
          // The broker cancelled us (queue deleted): start over, which declares it again.
          this.lost(connection);
          return;
        }
        acks.delivered(message.fields.deliveryTag);
        this.took(message);
        this.gather(channel, acks, message);
      };
      // Messages of a dropped channel still in hand count: past the budget, this one starts paused.
      await this.reconcileFlow(channel);
      this.backoffMs = BACKOFF_START_MS;
      this.options.logger.info(
        { queue: XRAY_TOPOLOGY.queue, prefetch: this.options.prefetch, consuming: this.consuming },
        'amqp: consuming',
      );
    } catch (error) {
      // Never the URL: it holds the broker password.
      this.options.logger.warn({ err: (error as Error).message, retryInMs: this.backoffMs }, 'amqp: connect failed');
      if (connection !== null) await connection.close().catch(() => undefined);
      this.scheduleReconnect();
    }
  }

  private lost(connection: ChannelModel | null): void {
    if (connection === null || this.connection !== connection) return;
    this.connection = null;
    this.channel = null;
    this.consuming = false;
    this.consumerTag = null;
    void connection.close().catch(() => undefined);
    if (this.stopped) return;
    this.options.logger.warn({ retryInMs: this.backoffMs }, 'amqp: connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer !== undefined) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connecting = this.connect();
    }, delay);
    this.timer.unref();
  }

  /** Over the byte budget: pause; back at half of it: consume again. */
  private wantsPause(): boolean {
    if (this.inHandBytes > this.maxInHandBytes) return true;
    if (this.inHandBytes <= this.maxInHandBytes / 2) return false;
    return !this.consuming;
  }

  /**
   * Brings the channel's consumer in line with the byte budget: cancels it (the broker stops pushing;
   * deliveries already on their way still arrive and count) or consumes again. One change at a time:
   * a cancel and a consume racing each other could leave two consumers or none.
   */
  private async reconcileFlow(channel: ConfirmChannel): Promise<void> {
    if (this.flowChanging) return;
    this.flowChanging = true;
    try {
      for (;;) {
        if (this.stopped || this.channel !== channel) return;
        const pause = this.wantsPause();
        if (pause !== this.consuming) return;
        if (pause) {
          const tag = this.consumerTag;
          this.consumerTag = null;
          this.consuming = false;
          this.options.metrics?.paused();
          this.options.logger.warn(
            { inHandBytes: this.inHandBytes, maxInHandBytes: this.maxInHandBytes },
            'amqp: bodies in hand over the byte budget; pausing the consumer',
          );
          if (tag !== null) await channel.cancel(tag);
        } else {
          const deliver = this.deliver;
          if (deliver === null) return;
          const consumer = await channel.consume(XRAY_TOPOLOGY.queue, deliver);
          if (this.stopped) {
            // close() came meanwhile and found no consumer to cancel: this one must not outlive it.
            await channel.cancel(consumer.consumerTag);
            return;
          }
          this.consumerTag = consumer.consumerTag;
          this.consuming = true;
        }
      }
    } catch {
      // The channel is closing: 'close' carries the reconnect, whose channel reconciles again.
    } finally {
      this.flowChanging = false;
    }
  }

  private took(message: ConsumeMessage): void {
    this.inHandMessages += 1;
    this.inHandBytes += message.content.length;
    this.options.metrics?.inHand(this.inHandMessages, this.inHandBytes);
    const channel = this.channel;
    if (this.consuming && channel !== null && this.inHandBytes > this.maxInHandBytes) void this.reconcileFlow(channel);
  }

  /** A message is settled (acked, or nacked back to the broker): its body is no longer ours. */
  private released(message: ConsumeMessage): void {
    this.inHandMessages -= 1;
    this.inHandBytes -= message.content.length;
    this.options.metrics?.inHand(this.inHandMessages, this.inHandBytes);
    const channel = this.channel;
    if (!this.consuming && channel !== null && !this.wantsPause()) void this.reconcileFlow(channel);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Collects a delivery into this turn's burst; the burst is handled once the turn's I/O is read. */
  private gather(channel: ConfirmChannel, acks: AckTracker, message: ConsumeMessage): void {
    if (this.burstChannel !== null && this.burstChannel.channel !== channel) this.flushBurst();
    if (this.burst.length === 0) {
      this.burstChannel = { channel, acks };
      setImmediate(() => this.flushBurst());
    }
    this.burst.push(message);
  }

  private flushBurst(): void {
    const target = this.burstChannel;
    const messages = this.burst;
    this.burst = [];
    this.burstChannel = null;
    if (target === null || messages.length === 0) return;
    this.track(this.handleBurst(target.channel, target.acks, messages));
  }

  private async handleBurst(channel: ConfirmChannel, acks: AckTracker, messages: ConsumeMessage[]): Promise<void> {
    let answers: BurstAnswer[];
    try {
      answers = await handleSignedBurst(
        this.deps,
        messages.map((message) => ({
          headers: message.properties.headers ?? {},
          body: message.content,
          redelivered: message.fields.redelivered || isRetryCopy(message),
        })),
        AMQP_TIMESTAMP_HEADER,
        'amqp',
        `amqp:${XRAY_TOPOLOGY.queue}`,
        true, // the broker keeps delivering up to the prefetch while a burst commits
      );
    } catch (error) {
      // Our bug, not the messages': keep them in the broker.
      this.options.logger.error({ err: (error as Error).message }, 'amqp: message handling failed');
      const busy: BurstAnswer = {
        kind: 'busy',
        reason: 'internal_error',
        detail: 'the hub failed while handling the message',
      };
      answers = messages.map(() => busy);
    }
    let lastAckable: number | null = null;
    const settle = (message: ConsumeMessage, kind: SignalAnswer['kind']): void => {
      const upTo = acks.settle(message.fields.deliveryTag);
      if (upTo !== null) lastAckable = Math.max(lastAckable ?? 0, upTo);
      this.options.onSettled?.(kind);
    };
    const copies: Array<Promise<void>> = [];
    const committed: ConsumeMessage[] = [];
    messages.forEach((message, index) => {
      const answer = answers[index] as BurstAnswer;
      if (answer.kind === 'stored' || answer.kind === 'seen') {
        settle(message, answer.kind);
        committed.push(message);
      } else copies.push(this.settleByCopy(channel, acks, message, answer).finally(() => this.released(message)));
    });
    // The committed ones first, in one frame; their copies' confirms must not hold them back.
    this.ackUpTo(channel, lastAckable);
    for (const message of committed) this.released(message);
    await Promise.all(copies);
  }

  /**
   * A refused message is acked once its dead-letter copy is confirmed, a busy one once its retry copy
   * is; if the copy fails the message stays in the broker (nack with requeue).
   */
  private async settleByCopy(
    channel: ConfirmChannel,
    acks: AckTracker,
    message: ConsumeMessage,
    answer: Extract<BurstAnswer, { kind: 'refused' | 'busy' }>,
  ): Promise<void> {
    try {
      if (answer.kind === 'refused') {
        await this.publishConfirmed(
          channel,
          XRAY_TOPOLOGY.deadLetterExchange,
          XRAY_TOPOLOGY.deadLetterRoutingKey,
          message,
          {
            [REJECT_REASON_HEADER]: answer.reason,
            [REJECT_DETAIL_HEADER]: answer.detail.slice(0, MAX_DETAIL_CHARS),
          },
        );
      } else {
        await this.publishConfirmed(
          channel,
          '',
          XRAY_TOPOLOGY.retryQueue,
          message,
          { [RETRY_REASON_HEADER]: answer.reason },
          String(this.options.retryDelayMs),
        );
      }
      this.ackUpTo(channel, acks.settle(message.fields.deliveryTag));
      this.options.onSettled?.(answer.kind);
    } catch {
      // The channel went away or the broker refused the copy: the message stays unacked, so the broker
      // hands it out again (on a closed channel, to the next connection).
      try {
        channel.nack(message, false, true);
        this.ackUpTo(channel, acks.nacked(message.fields.deliveryTag));
      } catch {
        // channel closed: the broker requeues unacked messages itself
      }
      this.options.onSettled?.('retry_failed');
    }
  }

  /** One ack frame for every delivery up to `tag` (all settled, see AckTracker). */
  private ackUpTo(channel: ConfirmChannel, tag: number | null): void {
    if (tag === null) return;
    try {
      channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, true);
    } catch {
      // channel closed: its unacked deliveries go back to the queue and their readings dedupe
    }
  }

  /** Publishes a copy (same body, original headers plus `extra`) and waits for the broker's confirm. */
  private publishConfirmed(
    channel: ConfirmChannel,
    exchange: string,
    routingKey: string,
    message: ConsumeMessage,
    extra: Record<string, string>,
    expiration?: string,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      channel.publish(
        exchange,
        routingKey,
        message.content,
        {
          headers: { ...(message.properties.headers ?? {}), ...extra },
          persistent: true,
          ...(expiration === undefined ? {} : { expiration }),
        },
        (error) => (error === null || error === undefined ? resolve() : reject(error as Error)),
      );
    });
  }

  /** Stops consuming, lets the messages in hand finish (commit and settle), then closes. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.connecting?.catch(() => undefined);
    const channel = this.channel;
    const tag = this.consumerTag;
    this.consumerTag = null;
    this.consuming = false;
    if (channel !== null && tag !== null) {
      // Cancel first so no new delivery starts; the ones in hand still ack on this channel.
      await channel.cancel(tag).catch(() => undefined);
    }
    this.flushBurst();
    await Promise.allSettled([...this.inFlight]);
    const connection = this.connection;
    this.connection = null;
    this.channel = null;
    await connection?.close().catch(() => undefined);
  }
}

/**
 * A copy the hub itself put in the retry queue: it carries our retry header, or the broker's x-death
 * record of its stay there. Like a redelivery, it may meet its own earlier attempt's nonce.
 */
function isRetryCopy(message: ConsumeMessage): boolean {
  const headers = message.properties.headers ?? {};
  if (headers[RETRY_REASON_HEADER] !== undefined) return true;
  const deaths: unknown = headers['x-death'];
  return (
    Array.isArray(deaths) &&
    deaths.some((death) => (death as { queue?: unknown } | null)?.queue === XRAY_TOPOLOGY.retryQueue)
  );
}
