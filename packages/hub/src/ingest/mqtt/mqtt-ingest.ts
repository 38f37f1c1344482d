/**
 * Native sealed frames through an MQTT broker (MQTT 5, MQTT.js). The hub holds `connections` client
 * sessions, each persistent (clean start off, a session expiry) and subscribed through the group's
 * shared subscription, so the broker splits messages between every connection of every hub in the group.
 *
 * A message's PUBACK is withheld until its readings are committed (`customHandleAcks`); MQTT.js handles
 * one connection's messages one at a time while an acknowledgement is withheld, so a hub holds at most
 * `connections` messages in flight, and the broker holds the rest (receive maximum per connection). While
 * the commit queue is saturated no new message is taken (backpressure up to the broker). Answers go on the
 * channel's answer topic. A hub killed before commit leaves the message unacknowledged in its session: the
 * broker delivers it again and (device, seq) keeps the readings stored once.
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

/** PUBACK reason codes (MQTT 5). */
const PUBACK_SUCCESS = 0;
const PUBACK_UNSPECIFIED_ERROR = 0x80;
const PUBACK_PAYLOAD_FORMAT_INVALID = 0x99;

export interface MqttIngestMetrics {
  messageHandled(outcome: 'handled' | 'refused' | 'held', seconds: number): void;
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
  return {
    start() {
      for (let index = 0; index < options.connections; index += 1) {
        links.push(new MqttLink(options, settings, `${options.clientId}-${index}`, report));
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
  private inHand: Promise<void> = Promise.resolve();
  private reconnectWaitMs: number;
  private closing = false;

  constructor(
    private readonly options: MqttIngestOptions,
    private readonly settings: MqttFramesSettings,
    clientId: string,
    private readonly report: () => void,
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
        const work = this.handle(topic, message, packet as unknown, done);
        this.inHand = work;
      },
    };
    this.client = mqtt.connect(options.url, clientOptions);
    this.client.on('connect', (connack) => {
      this.reconnectWaitMs = options.reconnectMinMs;
      this.client.options.reconnectPeriod = options.reconnectMinMs;
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

  private async handle(
    topic: string,
    message: Buffer,
    packet: unknown,
    done: (error: Error | number, code?: number) => void,
  ): Promise<void> {
    const started = performance.now();
    const { pipeline } = this.settings;
    try {
      // Backpressure: while the commit queue is above its high-water mark this connection takes nothing
      // more; its messages wait in the broker.
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
        done(PUBACK_SUCCESS);
        this.options.metrics.messageHandled(
          answer.outcome === 'ack' ? 'handled' : 'refused',
          (performance.now() - started) / 1000,
        );
        return;
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
        done(PUBACK_PAYLOAD_FORMAT_INVALID);
        this.options.metrics.messageHandled('refused', (performance.now() - started) / 1000);
        return;
      }
      const outcome = await handleFramesMessage(this.settings, topic, message);
      if (outcome.kind === 'hold') {
        this.options.metrics.messageHandled('held', (performance.now() - started) / 1000);
        return;
      }
      if (outcome.answer !== null && outcome.answer.length > 0) {
        this.client.publish(answersTopic(this.options.topicPrefix, inbound.channel), outcome.answer, { qos: 1 });
      }
      done(outcome.kind === 'handled' ? PUBACK_SUCCESS : PUBACK_PAYLOAD_FORMAT_INVALID);
      this.options.metrics.messageHandled(outcome.kind, (performance.now() - started) / 1000);
    } catch (error) {
      // A defect: logged, and the message acknowledged as an error so one bad message cannot stall the link.
      this.options.logger.error({ err: error, topic }, 'handling an mqtt message failed');
      done(PUBACK_UNSPECIFIED_ERROR);
    }
  }

  abort(): void {
    this.closing = true;
    this.client.end(true);
  }

  async close(): Promise<void> {
    this.closing = true;
    // The message in hand finishes first (answered and acknowledged, or left to the broker).
    await this.inHand;
    await new Promise<void>((resolve) => {
      this.client.end(false, {}, () => resolve());
      setTimeout(() => {
        this.client.end(true);
        resolve();
      }, 2000).unref();
    });
  }
}

/** An MQTT 5 PUBLISH's user properties (absent on MQTT 3.1.1 and when none were sent). */
function userPropertiesOf(packet: unknown): Readonly<Record<string, string | string[] | undefined>> | undefined {
  if (typeof packet !== 'object' || packet === null) return undefined;
  const properties = (packet as { properties?: { userProperties?: unknown } }).properties;
  const user = properties?.userProperties;
  return typeof user === 'object' && user !== null ? (user as Record<string, string | string[]>) : undefined;
}
