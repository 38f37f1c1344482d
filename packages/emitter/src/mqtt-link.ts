/**
 * A FrameLink through an MQTT broker (MQTT.js): frames written in one turn of the event loop leave as one
 * QoS 1 message on `<prefix>/<channel>/frames` (batched, up to framesPerMessage), and the hub's answers
 * arrive on `<prefix>/<channel>/answers`. The client's own outbox resends whatever is not answered, so
 * the session is clean and MQTT.js does not reconnect by itself (the client's backoff does).
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { FrameDecoder } from '@sealstream/protocol';
import type { FrameLink, FrameLinkHandlers, FrameTransport } from './frame-link.js';

/** Messages published but not yet acknowledged by the broker before write() reports a full buffer. */
const MAX_UNACKED_MESSAGES = 64;

export function openMqttLink(
  transport: Extract<FrameTransport, { kind: 'mqtt' }>,
  keyId: string,
  handlers: FrameLinkHandlers,
): FrameLink {
  const prefix = transport.topicPrefix ?? 'sealstream/v1';
  const channel = transport.channel ?? `${keyId}.${randomBytes(4).toString('hex')}`;
  const framesPerMessage = transport.framesPerMessage ?? 16;
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
    for (let at = 0; at < frames.length; at += framesPerMessage) publish(frames.slice(at, at + framesPerMessage));
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
