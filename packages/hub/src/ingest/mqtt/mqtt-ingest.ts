/**
 * Native sealed frames through an MQTT broker (MQTT 5, MQTT.js). The hub holds `connections` client
 * sessions, each persistent (clean start off, a session expiry) and subscribed through the group's
 * shared subscription, so the broker splits messages between every connection of every hub in the group.
 *
 * A message's PUBACK is withheld until its readings are committed (`customHandleAcks`). Each connection
 * holds up to `receiveMaximum` messages in hand at once (the broker sends no more ahead of the PUBACKs):
 * their frames open and commit together, and their PUBACKs go out in arrival order (puback-window.ts,
 * puback-takeover.ts). While the commit queue is saturated no new message is taken (backpressure up to
 * the broker). Answers go on the channel's answer topic. A hub killed or disconnected before commit
 * leaves the message unacknowledged in its session: the broker delivers it again, the repeated frame is
 * answered by what was committed (a duplicate ACK, or the frame taken now), and (device, seq) keeps the
 * readings stored once.
 *
 * The broker down at start or later: each connection reconnects with doubling backoff (capped), and
 * `connectedCount` tells /healthz. Built here, started by the app (`start()`), which owns the URL.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { handleFramesMessage, type MqttFramesSettings } from './mqtt-frames.js';
import { handleSignedMessage, type MqttSignedSettings } from './mqtt-signed.js';
import { answersTopic, parseInboundTopic, sharedFilters, signedAnswersTopic } from './mqtt-topics.js';
import { PubackWindow } from './puback-window.js';
import { takeOverPubacks, type PubackTakeover } from './puback-takeover.js';

/** PUBACK reason codes (MQTT 5). */
const PUBACK_SUCCESS = 0;
const PUBACK_UNSPECIFIED_ERROR = 0x80;
const PUBACK_PAYLOAD_FORMAT_INVALID = 0x99;

export interface MqttIngestMetrics {
  messageHandled(outcome: 'handled' | 'refused' | 'held', seconds: number): void;
  /** Sealed frames in one handled message (how well devices batch). */
  messageFrames(frames: number): void;
  /** Messages taken from the broker and not yet answered, over every connection. */
  messagesInHand(count: number): void;
  connectionState(connected: number): void;
}

export interface MqttIngestOptions {
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  readonly metrics: MqttIngestMetrics;
  readonly url: string;
  /** Each connection's client id is `<clientId>-<n>`; stable across restarts, so sessions persist. */
  readonly clientId: string;
  readonly group: string;
  readonly topicPrefix: string;
  /** Broker connections (and so messages in flight) per hub. */
  readonly connections: number;
  /** Messages the broker may send one connection before its PUBACKs (MQTT 5 receive maximum). */
  readonly receiveMaximum: number;
  /** How long the broker keeps a connection's session (and its unacknowledged messages) while it is away. */
  readonly sessionExpirySeconds: number;
  readonly maxFrameBytes: number;
  readonly maxFramesPerMessage: number;
  /** First reconnect wait; doubled per failed attempt up to reconnectMaxMs. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** HMAC-signed JSON on `<channel>/signed`; null: that topic's messages are refused. */
  readonly signed: Omit<MqttSignedSettings, 'pipeline'> | null;
}

export interface MqttIngest {
  start(): void;
  /** Connections currently connected to the broker (of `options.connections`). */
  readonly connectedCount: number;
  readonly connectionCount: number;
  /** Stops taking messages, waits for those in hand to be answered, and disconnects. */
  close(): Promise<void>;
  /**
   * Drops every broker connection at once, acknowledging nothing more: what the broker sees when the
   * process dies. Messages in hand stay with the broker for redelivery.
   */
  abort(): void;
}

export function createMqttIngest(options: MqttIngestOptions): MqttIngest {
  let closing = false;
  const links: MqttLink[] = [];
  const settings: MqttFramesSettings = {
    pipeline: options.pipeline,
    logger: options.logger,
    maxFrameBytes: options.maxFrameBytes,
    maxFramesPerMessage: options.maxFramesPerMessage,
    retryDelayMs: 250,
    isClosing: () => closing,
  };
  const report = (): void => options.metrics.connectionState(links.filter((link) => link.connected).length);
  let inHand = 0;
  const countInHand = (delta: number): void => {
    inHand += delta;
    options.metrics.messagesInHand(inHand);
  };
  return {
    start() {
      for (let index = 0; index < options.connections; index += 1) {
        links.push(new MqttLink(options, settings, `${options.clientId}-${index}`, report, countInHand));
      }
    },
    get connectedCount() {
      return links.filter((link) => link.connected).length;
    },
    get connectionCount() {
      return options.connections;
    },
    async close() {
      closing = true;
      await Promise.all(links.map((link) => link.close()));
    },
    abort() {
      closing = true;
      for (const link of links) link.abort();
    },
  };
}

class MqttLink {
  private readonly client: MqttClient;
  /** Messages taken and not yet answered (their work, whatever its outcome). */
  private readonly inHand = new Set<Promise<void>>();
  private readonly takeover: PubackTakeover | null;
  /** The current connection's withheld PUBACKs; null while disconnected. */
  private acks: PubackWindow | null = null;
  private reconnectWaitMs: number;
  private closing = false;

  constructor(
    private readonly options: MqttIngestOptions,
    private readonly settings: MqttFramesSettings,
    clientId: string,
    private readonly report: () => void,
    private readonly countInHand: (delta: number) => void,
  ) {
    this.reconnectWaitMs = options.reconnectMinMs;
    const clientOptions: IClientOptions = {
      protocolVersion: 5,
      clientId,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: options.reconnectMinMs,
      resubscribe: false,
      properties: {
        sessionExpiryInterval: options.sessionExpirySeconds,
        receiveMaximum: options.receiveMaximum,
        maximumPacketSize: options.maxFrameBytes * options.maxFramesPerMessage + 65_536,
      },
      customHandleAcks: (topic, message, packet, done) => {
        const work = this.take(topic, message, packet as unknown as PublishPacketView, done);
        this.inHand.add(work);
        this.countInHand(1);
        void work.finally(() => {
          this.inHand.delete(work);
          this.countInHand(-1);
        });
      },
    };
    this.client = mqtt.connect(options.url, clientOptions);
    this.takeover = takeOverPubacks(this.client);
    if (this.takeover === null) {
      options.logger.warn(
        { clientId },
        'mqtt: cannot withhold PUBACKs in parallel; one message in hand per connection',
      );
    }
    this.client.on('connect', (connack) => {
      this.reconnectWaitMs = options.reconnectMinMs;
      this.client.options.reconnectPeriod = options.reconnectMinMs;
      this.acks?.discard();
      const takeover = this.takeover;
      this.acks =
        takeover === null
          ? null
          : new PubackWindow((id, code) => takeover.sendPuback(id, code), options.receiveMaximum);
      this.report();
      options.logger.info({ clientId, sessionPresent: connack.sessionPresent }, 'mqtt connected');
      // Subscribing again when the session kept the subscription is harmless (same filter, same QoS).
      this.client.subscribe(sharedFilters(options.topicPrefix, options.group), { qos: 1 }, (error) => {
        if (error !== null && error !== undefined && !this.closing) {
          options.logger.error({ err: error.message, clientId }, 'mqtt subscribe failed');
        }
      });
    });
    this.client.on('close', () => {
      // Messages in hand stay unacknowledged in the session: the broker delivers them again.
      this.acks?.discard();
      this.acks = null;
      this.takeover?.reset();
      this.report();
      if (this.closing) return;
      // Doubling backoff: MQTT.js reads reconnectPeriod when it schedules the next attempt.
      this.client.options.reconnectPeriod = this.reconnectWaitMs;
      this.reconnectWaitMs = Math.min(this.reconnectWaitMs * 2, options.reconnectMaxMs);
    });
    this.client.on('error', (error) => {
      options.logger.warn({ err: error.message, clientId }, 'mqtt connection error');
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * Takes one message. QoS 1 with the takeover and room in the window: MQTT.js is called back at once
   * (it reads the next message) and the PUBACK follows the commit, in arrival order. Otherwise (QoS 2,
   * no takeover, a full window) MQTT.js waits for this message's PUBACK before it reads the next one.
   */
  private async take(
    topic: string,
    message: Buffer,
    packet: PublishPacketView,
    done: (error: Error | number, code?: number) => void,
  ): Promise<void> {
    const { pipeline } = this.settings;
    // Backpressure: while the commit queue is above its high-water mark this connection takes nothing
    // more (MQTT.js is not called back, so it reads no further); its messages wait in the broker.
    while (pipeline.saturated && !this.settings.isClosing()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        pipeline.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.settings.isClosing()) return; // left unacknowledged: the broker delivers it again
    const acks = this.acks;
    const messageId = packet.messageId;
    if (this.takeover !== null && acks !== null && !acks.full && packet.qos === 1 && messageId !== undefined) {
      const release = acks.hold(messageId);
      this.takeover.skipLibraryAck(messageId);
      done(PUBACK_SUCCESS); // MQTT.js reads on; the PUBACK it would send now is dropped
      const code = await this.handle(topic, message, packet);
      if (code !== null) release(code);
      return;
    }
    const code = await this.handle(topic, message, packet);
    if (code !== null) done(code);
  }

  /** Handles one message; its PUBACK reason code, or null to leave it unacknowledged (shutting down). */
  private async handle(topic: string, message: Buffer, packet: PublishPacketView): Promise<number | null> {
    const started = performance.now();
    const { pipeline } = this.settings;
    try {
      const inbound = parseInboundTopic(this.options.topicPrefix, topic);
      if (inbound !== null && inbound.kind === 'signed' && this.options.signed !== null) {
        const { answer } = await handleSignedMessage(
          { ...this.options.signed, pipeline },
          topic,
          message,
          userPropertiesOf(packet),
          (packet as { dup?: unknown } | null)?.dup === true,
        );
        this.client.publish(signedAnswersTopic(this.options.topicPrefix, inbound.channel), JSON.stringify(answer), {
          qos: 1,
        });
        this.options.metrics.messageHandled(
          answer.outcome === 'ack' ? 'handled' : 'refused',
          (performance.now() - started) / 1000,
        );
        return PUBACK_SUCCESS;
      }
      if (inbound === null || inbound.kind !== 'frames') {
        // Not ours to read (a topic outside the layout): refused, kept, acknowledged so it never loops.
        pipeline.refuse({
          reason: 'malformed_body',
          source: 'mqtt',
          peer: topic,
          device: null,
          detail: `topic ${topic} is not <prefix>/<channel>/frames or /signed`,
          raw: message,
        });
        this.options.metrics.messageHandled('refused', (performance.now() - started) / 1000);
        return PUBACK_PAYLOAD_FORMAT_INVALID;
      }
      const outcome = await handleFramesMessage(this.settings, topic, message);
      if (outcome.kind === 'hold') {
        this.options.metrics.messageHandled('held', (performance.now() - started) / 1000);
        return null;
      }
      if (outcome.answer !== null && outcome.answer.length > 0) {
        this.client.publish(answersTopic(this.options.topicPrefix, inbound.channel), outcome.answer, { qos: 1 });
      }
      if (outcome.kind === 'handled') this.options.metrics.messageFrames(outcome.frames);
      this.options.metrics.messageHandled(outcome.kind, (performance.now() - started) / 1000);
      return outcome.kind === 'handled' ? PUBACK_SUCCESS : PUBACK_PAYLOAD_FORMAT_INVALID;
    } catch (error) {
      // A defect: logged, and the message acknowledged as an error so one bad message cannot stall the link.
      this.options.logger.error({ err: error, topic }, 'handling an mqtt message failed');
      return PUBACK_UNSPECIFIED_ERROR;
    }
  }

  abort(): void {
    this.closing = true;
    this.acks?.discard();
    this.acks = null;
    this.client.end(true);
  }

  async close(): Promise<void> {
    this.closing = true;
    // The messages in hand finish first (answered and acknowledged, or left to the broker).
    while (this.inHand.size > 0) await Promise.allSettled([...this.inHand]);
    await new Promise<void>((resolve) => {
      this.client.end(false, {}, () => resolve());
      setTimeout(() => {
        this.client.end(true);
        resolve();
      }, 2000).unref();
    });
  }
}

/** What the hub reads of an incoming PUBLISH. */
interface PublishPacketView {
  readonly qos: number;
  readonly messageId?: number;
  readonly properties?: { readonly userProperties?: unknown };
}

/** An MQTT 5 PUBLISH's user properties (absent on MQTT 3.1.1 and when none were sent). */
function userPropertiesOf(packet: unknown): Readonly<Record<string, string | string[] | undefined>> | undefined {
  if (typeof packet !== 'object' || packet === null) return undefined;
  const properties = (packet as { properties?: { userProperties?: unknown } }).properties;
  const user = properties?.userProperties;
  return typeof user === 'object' && user !== null ? (user as Record<string, string | string[]>) : undefined;
}
