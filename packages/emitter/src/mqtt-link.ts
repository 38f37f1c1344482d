/**
 * A FrameLink through an MQTT broker (MQTT.js): frames written in one turn of the event loop leave as one
 * QoS 1 message on `<prefix>/<channel>/frames` (batched, up to framesPerMessage frames and maxMessageBytes
 * bytes: the hub's broker drops a larger message unseen, which would leave its frames unanswered forever),
 * and the hub's answers
 * arrive on `<prefix>/<channel>/answers`. The client's own outbox resends whatever is not answered, so
 * the session is clean and MQTT.js does not reconnect by itself (the client's backoff does).
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { FrameDecoder } from '@sealstream/protocol';
import type { FrameLink, FrameLinkHandlers, FrameTransport } from './frame-link.js';

/** Messages published but not yet acknowledged by the broker before write() reports a full buffer. */
const MAX_UNACKED_MESSAGES = 64;

/** The hub's default message bound: its --max-frame-bytes (1 MiB) + 64 KiB (docs/protocol.md §4a). */
export const DEFAULT_MQTT_MAX_MESSAGE_BYTES = 1_048_576 + 65_536;

/**
 * Splits frames, in order, into messages of at most `maxFrames` frames and `maxBytes` bytes; a frame
 * larger than `maxBytes` travels alone (the hub refuses it, and the device learns why).
 */
export function batchFrames(frames: readonly Buffer[], maxFrames: number, maxBytes: number): Buffer[][] {
  const batches: Buffer[][] = [];
  let current: Buffer[] = [];
  let bytes = 0;
  for (const frame of frames) {
    if (current.length > 0 && (current.length >= maxFrames || bytes + frame.length > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(frame);
    bytes += frame.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export function openMqttLink(
  transport: Extract<FrameTransport, { kind: 'mqtt' }>,
  keyId: string,
  handlers: FrameLinkHandlers,
): FrameLink {
  const prefix = transport.topicPrefix ?? 'sealstream/v1';
  const channel = transport.channel ?? `${keyId}.${randomBytes(4).toString('hex')}`;
  const framesPerMessage = transport.framesPerMessage ?? 16;
  const maxMessageBytes = transport.maxMessageBytes ?? DEFAULT_MQTT_MAX_MESSAGE_BYTES;
  const framesTopic = `${prefix}/${channel}/frames`;
  const answersTopic = `${prefix}/${channel}/answers`;
  const client = mqtt.connect(transport.url, {
    protocolVersion: 5,
    clientId: `sealstream-emit-${randomBytes(6).toString('hex')}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: transport.connectTimeoutMs ?? 5000,
    keepalive: 15,
  });
  let open = false;
  let closed = false;
  let lastError = 'connection closed';
  let pending: Buffer[] = [];
  let flushScheduled = false;
  let unacked = 0;
  let blocked = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    open = false;
    handlers.onClose(lastError);
  };
  client.on('connect', () => {
    client.subscribe(answersTopic, { qos: 1 }, (error) => {
      if (error !== null && error !== undefined) {
        lastError = `subscribe failed: ${error.message}`;
        client.end(true);
        return;
      }
      open = true;
      handlers.onOpen();
    });
  });
  client.on('message', (_topic, payload) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 65_536 });
    for (const item of [...decoder.push(payload), ...decoder.end()]) {
      if (item.ok) handlers.onFrame(item.frame);
    }
  });
  client.on('error', (error) => {
    lastError = error.message;
  });
  client.on('close', close);

  const publish = (frames: Buffer[]): void => {
    unacked += 1;
    client.publish(framesTopic, frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames), { qos: 1 }, () => {
      unacked -= 1;
      if (blocked && unacked < MAX_UNACKED_MESSAGES / 2) {
        blocked = false;
        handlers.onDrain();
      }
    });
  };
  const flush = (): void => {
    flushScheduled = false;
    const frames = pending;
    pending = [];
    for (const batch of batchFrames(frames, framesPerMessage, maxMessageBytes)) publish(batch);
  };

  return {
    heartbeats: false,
    write(bytes) {
      if (!open) return false;
      pending.push(bytes);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flush);
      }
      if (unacked >= MAX_UNACKED_MESSAGES) blocked = true;
      return !blocked;
    },
    end: () =>
      new Promise<void>((resolve) => {
        if (pending.length > 0) flush();
        client.end(false, {}, () => resolve());
        setTimeout(() => {
          client.end(true);
          resolve();
        }, 1000).unref();
      }),
    destroy(reason) {
      if (reason !== undefined) lastError = reason;
      client.end(true);
      close();
    },
  };
}
