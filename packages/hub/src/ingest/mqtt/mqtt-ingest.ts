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
 * QoS 0 messages have no PUBACK, so MQTT.js never hands them to `customHandleAcks`: they come through
 * `handleMessage` (overridden here) and take the same path, without a PUBACK, and count against the same
 * bound: whatever their QoS, a connection holds at most `receiveMaximum` messages in hand (the broker's
 * receive maximum covers only QoS 1 and 2, so the hub stops reading for the rest). A QoS 0 message the
 * hub loses (disconnected, shut down) is not delivered again: only the device's own resend brings it back.
 *
 * Shutdown: messages in hand are finished (QoS 0 committed and answered; QoS 1 committed and acknowledged,
 * or left to the broker). Every message is called back to MQTT.js even then, since MQTT.js reads packets
 * in order and the PUBACKs of the hub's own answers wait behind them: without them the clean disconnect
 * (which waits for those PUBACKs) never came and the connection was cut after 2 s. A QoS 0 message that
 * arrives once the shutdown began is answered ERROR `shutting_down` (the device resends it elsewhere), not
 * committed, so a device that keeps sending cannot hold the close open; nothing is published once the
 * client is ending.
 *
 * Bytes: the hub announces an MQTT 5 maximum packet size of `maxMessageBytes` plus room for the topic
 * and properties, so the broker never sends a connection a larger PUBLISH (Mosquitto drops it for this
 * subscriber and logs it; the hub never sees it). A connection so holds at most `receiveMaximum` packets
 * of that size. A payload above `maxMessageBytes` that still fits the packet is refused `body_too_large`.
 *
 * An empty retained PUBLISH is how MQTT clears a topic's retained message: acknowledged and ignored (the
 * subscription is retain-as-published, so the hub sees the flag).
 *
 * The broker down at start or later: each connection reconnects with doubling backoff (capped), and
 * `connectedCount` tells /healthz. Built here, started by the app (`start()`), which owns the URL.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { handleFramesMessage, shuttingDownAnswer, type MqttFramesSettings } from './mqtt-frames.js';
import { handleSignedMessage, type MqttSignedSettings, type SignedAnswer } from './mqtt-signed.js';
import { answersTopic, parseInboundTopic, sharedFilters, signedAnswersTopic } from './mqtt-topics.js';
import { PubackWindow } from './puback-window.js';
import { takeOverPubacks, type PubackTakeover } from './puback-takeover.js';

/** PUBACK reason codes (MQTT 5). */
const PUBACK_SUCCESS = 0;
const PUBACK_UNSPECIFIED_ERROR = 0x80;
const PUBACK_PAYLOAD_FORMAT_INVALID = 0x99;

/** Room in the announced maximum packet size for the fixed header, topic, packet id and properties. */
export const MQTT_PACKET_OVERHEAD_BYTES = 65_536;

export interface MqttIngestMetrics {
  /**
   * `held`: a QoS 1 message left unacknowledged at shutdown (the broker delivers it again); `dropped`: a
   * QoS 0 message whose frames could not be committed before shutdown (nothing delivers it again);
   * `ignored`: an empty retained publish (clears the retained message; nothing to store or refuse).
   */
  messageHandled(outcome: 'handled' | 'refused' | 'held' | 'dropped' | 'ignored', seconds: number): void;
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
  /**
   * Largest payload one message may carry (both topics). The broker is told (maximum packet size) never
   * to send a larger one, which bounds the memory of a connection's messages in hand.
   */
  readonly maxMessageBytes: number;
  /** First reconnect wait; doubled per failed attempt up to reconnectMaxMs. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** HMAC-signed JSON on `<channel>/signed`; null: that topic's messages are refused. */
  readonly signed: Omit<MqttSignedSettings, 'pipeline' | 'maxMessageBytes'> | null;
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
    maxMessageBytes: options.maxMessageBytes,
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
  /**
   * Messages taken and not yet finished, counted as they arrive (before their work starts): the bound
   * on messages in hand, whatever their QoS, is checked against it.
   */
  private taken = 0;
  /** Bumped when a connection closes: a deferred callback of an older connection must not act on this one. */
  private generation = 0;
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
        // The broker sends no larger PUBLISH (it drops it for this subscriber): the memory bound.
        maximumPacketSize: options.maxMessageBytes + MQTT_PACKET_OVERHEAD_BYTES,
      },
      // QoS 1 and 2 only: MQTT.js hands QoS 0 messages to handleMessage (below), never to this.
      customHandleAcks: (topic, message, packet, done) => {
        this.admit(topic, message, packet as unknown as PublishPacketView, { qos: 1, done });
      },
    };
    this.client = mqtt.connect(options.url, clientOptions);
    // MQTT.js calls handleMessage for every message it delivers (QoS 0 straight from the PUBLISH, QoS 1
    // after the customHandleAcks callback, QoS 2 at PUBREL) and reads the next packet only once its
    // callback is called. Only QoS 0 is taken here; the others were taken in customHandleAcks.
    this.client.handleMessage = (packet, callback) => {
      if (packet.qos !== 0) {
        callback();
        return;
      }
      this.admit(packet.topic, packet.payload as Buffer, packet as unknown as PublishPacketView, {
        qos: 0,
        readOn: () => callback(),
      });
    };
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
      // Retain as published: the hub must see the retain flag to tell an empty retained publish (clearing
      // a retained message) from an empty message. Shared subscriptions get no retained messages on
      // subscribe, so this brings no old message in.
      this.client.subscribe(sharedFilters(options.topicPrefix, options.group), { qos: 1, rap: true }, (error) => {
        if (error !== null && error !== undefined && !this.closing) {
          options.logger.error({ err: error.message, clientId }, 'mqtt subscribe failed');
        }
      });
    });
    this.client.on('close', () => {
      // Messages in hand stay unacknowledged in the session: the broker delivers them again.
      this.generation += 1;
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

  /** Counts a message in hand from its arrival until its work is done, and starts that work. */
  private admit(topic: string, message: Buffer, packet: PublishPacketView, delivery: Delivery): void {
    this.taken += 1;
    this.countInHand(1);
    const work = this.take(topic, message, packet, delivery);
    this.inHand.add(work);
    void work.finally(() => {
      this.inHand.delete(work);
      this.taken -= 1;
      this.countInHand(-1);
    });
  }

  /**
   * Takes one message. While this connection holds fewer than `receiveMaximum` messages (this one
   * included), MQTT.js is called back at once and reads the next one; at the bound it is called back only
   * when this message is done, so the connection reads no further meanwhile. QoS 1 with the takeover: the
   * PUBACK follows the commit, in arrival order (the window). QoS 1 without it (or a full window, or QoS 2):
   * MQTT.js sends this message's PUBACK, and reads on, after it is done. QoS 0: no PUBACK at all.
   */
  private async take(topic: string, message: Buffer, packet: PublishPacketView, delivery: Delivery): Promise<void> {
    const { pipeline } = this.settings;
    const generation = this.generation;
    if (delivery.qos === 0 && this.settings.isClosing()) {
      this.refuseWhileClosing(topic, message);
      delivery.readOn();
      return;
    }
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
    const closing = this.settings.isClosing();
    const readOnNow = !closing && this.taken < this.options.receiveMaximum;
    if (delivery.qos === 0) {
      // Nothing delivers a QoS 0 message again, so one taken before the shutdown is handled even while the
      // hub closes; MQTT.js is called back after it either way (what arrives next is refused, see above).
      if (readOnNow) delivery.readOn();
      await this.handle(topic, message, packet, 0);
      if (!readOnNow) delivery.readOn();
      return;
    }
    if (closing) {
      // Left unacknowledged: the broker delivers it again. MQTT.js is still called back (its PUBACK
      // dropped) where the takeover allows, so it reads on to the PUBACKs of the hub's answers.
      const id = packet.messageId;
      if (this.takeover !== null && packet.qos === 1 && id !== undefined && generation === this.generation) {
        this.takeover.skipLibraryAck(id);
        delivery.done(PUBACK_SUCCESS);
      }
      return;
    }
    // Its connection closed while it waited: the broker delivers it again on the new one, and its packet
    // id must not enter the new connection's window.
    if (generation !== this.generation) return;
    const { done } = delivery;
    const acks = this.acks;
    const messageId = packet.messageId;
    if (this.takeover !== null && acks !== null && !acks.full && packet.qos === 1 && messageId !== undefined) {
      const release = acks.hold(messageId);
      this.takeover.skipLibraryAck(messageId);
      if (readOnNow) done(PUBACK_SUCCESS); // MQTT.js reads on; the PUBACK it would send now is dropped
      const code = await this.handle(topic, message, packet, 1);
      if (code !== null) release(code);
      // At the bound, MQTT.js reads on only now (its PUBACK is dropped, the window sent the real one).
      // Not on a newer connection: its skip was forgotten, and the packet id may name another message there.
      if (!readOnNow && code !== null && generation === this.generation) done(PUBACK_SUCCESS);
      return;
    }
    const code = await this.handle(topic, message, packet, packet.qos);
    // Not on a newer connection: MQTT.js would send this PUBACK there, under a packet id of the old one.
    if (code !== null && generation === this.generation) done(code);
  }

  /** Handles one message; its PUBACK reason code, or null to leave it unacknowledged (shutting down). */
  private async handle(topic: string, message: Buffer, packet: PublishPacketView, qos: number): Promise<number | null> {
    const started = performance.now();
    const { pipeline } = this.settings;
    try {
      if (message.length === 0 && packet.retain === true) {
        // MQTT's way to clear a topic's retained message: nothing to store, nothing wrong with it.
        this.options.metrics.messageHandled('ignored', (performance.now() - started) / 1000);
        return PUBACK_SUCCESS;
      }
      const inbound = parseInboundTopic(this.options.topicPrefix, topic);
      if (inbound !== null && inbound.kind === 'signed' && this.options.signed !== null) {
        const { answer } = await handleSignedMessage(
          { ...this.options.signed, pipeline, maxMessageBytes: this.options.maxMessageBytes },
          topic,
          message,
          userPropertiesOf(packet),
          (packet as { dup?: unknown } | null)?.dup === true,
        );
        this.publish(signedAnswersTopic(this.options.topicPrefix, inbound.channel), JSON.stringify(answer));
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
        if (qos === 0) {
          // No broker redelivery for QoS 0: said out loud, since only the device's resend recovers it.
          this.options.logger.warn(
            { topic },
            'mqtt: a QoS 0 message could not be committed before shutdown; only the device resending it recovers it',
          );
        }
        this.options.metrics.messageHandled(qos === 0 ? 'dropped' : 'held', (performance.now() - started) / 1000);
        return null;
      }
      if (outcome.answer !== null && outcome.answer.length > 0) {
        this.publish(answersTopic(this.options.topicPrefix, inbound.channel), outcome.answer);
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

  /** A QoS 0 message that arrived after the shutdown began: answered `shutting_down`, never committed. */
  private refuseWhileClosing(topic: string, message: Buffer): void {
    const started = performance.now();
    const inbound = parseInboundTopic(this.options.topicPrefix, topic);
    if (inbound?.kind === 'frames') {
      const answer = shuttingDownAnswer(this.settings, message);
      if (answer !== null) this.publish(answersTopic(this.options.topicPrefix, inbound.channel), answer);
    } else if (inbound?.kind === 'signed') {
      const detail = 'the hub is shutting down; sign and send it again';
      const answer: SignedAnswer = { outcome: 'error', reason: 'shutting_down', detail, retryable: true };
      this.publish(signedAnswersTopic(this.options.topicPrefix, inbound.channel), JSON.stringify(answer));
    }
    this.options.metrics.messageHandled('dropped', (performance.now() - started) / 1000);
  }

  /**
   * Publishes an answer (QoS 1), unless the client is already ending: MQTT.js would refuse it with an
   * 'error' event, and the device learns nothing either way (it resends what was not answered).
   */
  private publish(topic: string, payload: string | Buffer): void {
    if (this.client.disconnecting) return;
    this.client.publish(topic, payload, { qos: 1 });
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

/** How a message was handed over: QoS 1 (and 2, labelled 1) through customHandleAcks, QoS 0 through handleMessage. */
type Delivery =
  | { readonly qos: 0; readonly readOn: () => void }
  | { readonly qos: 1; readonly done: (error: Error | number, code?: number) => void };

/** What the hub reads of an incoming PUBLISH. */
interface PublishPacketView {
  readonly qos: number;
  readonly retain?: boolean;
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
