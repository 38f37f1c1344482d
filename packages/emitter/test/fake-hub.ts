/**
 * A scriptable stand-in for the hub, for testing the emitter's behaviour in isolation: it decodes and
 * opens real frames with the protocol package and answers as told (ack, refuse, stay silent, cut off).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  deriveDeviceKey,
  encodeAck,
  encodeError,
  encodePong,
  FrameDecoder,
  FrameType,
  HARD_MAX_FRAME_BYTES,
  openDataFrame,
  type DataFrame,
  type Reading,
  type ReasonCode,
} from '@sealstream/protocol';

export type Answer = { kind: 'ack' } | { kind: 'error'; reason: ReasonCode } | { kind: 'silent' } | { kind: 'cut' };

export interface ReceivedFrame {
  readonly frame: DataFrame;
  readonly readings: Reading[];
  readonly connection: number;
}

export class FakeHub {
  readonly frames: ReceivedFrame[] = [];
  readonly stored = new Map<string, Reading>();
  connections = 0;
  pings = 0;
  /** When false the hub ignores PINGs, like a hub that hangs without closing its sockets. */
  answerPings = true;
  answer: (frame: ReceivedFrame, index: number) => Answer = () => ({ kind: 'ack' });
  /** When set, readings of other devices are refused one by one in the ACK, as the hub does (device_not_allowed). */
  allowedDevices: ReadonlySet<string> | undefined;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private paused = false;

  /** One secret for every key id, or a map key id -> secret (per-device keys). */
  constructor(secrets: Uint8Array | ReadonlyMap<string, Uint8Array>) {
    const keys =
      secrets instanceof Map
        ? new Map([...secrets].map(([keyId, secret]) => [keyId, deriveDeviceKey(secret)]))
        : undefined;
    const sharedKey = secrets instanceof Map ? undefined : deriveDeviceKey(secrets as Uint8Array);
    this.server = createServer((socket) => {
      const connection = ++this.connections;
      this.sockets.add(socket);
      if (this.paused) socket.pause();
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      // The protocol's ceiling: the client's own maxFrameBytes is what tests exercise.
      const decoder = new FrameDecoder({ maxFrameBytes: HARD_MAX_FRAME_BYTES });
      socket.on('data', (chunk: Buffer) => {
        for (const item of decoder.push(Buffer.from(chunk))) {
          if (!item.ok) throw new Error(`emitter sent a bad frame: ${item.reason}`);
          const frame = item.frame;
          if (frame.type === FrameType.Ping) {
            this.pings += 1;
            if (this.answerPings) socket.write(encodePong(frame.nonce));
          }
          if (frame.type !== FrameType.Data) continue;
          const key = sharedKey ?? keys?.get(frame.keyId);
          if (key === undefined) throw new Error(`emitter used an unknown key id: ${frame.keyId}`);
          const opened = openDataFrame(frame, key);
          if (!opened.ok) throw new Error(`emitter sent an unopenable frame: ${opened.reason}`);
          const received = { frame, readings: opened.readings as Reading[], connection };
          this.frames.push(received);
          const answer = this.answer(received, this.frames.length - 1);
          if (answer.kind === 'cut') {
            socket.destroy();
            return;
          }
          if (answer.kind === 'silent') continue;
          if (answer.kind === 'error') {
            socket.write(encodeError(frame.frameId, answer.reason, 'test refusal'));
            continue;
          }
          let accepted = 0;
          let rejected = 0;
          for (const reading of received.readings) {
            if (this.allowedDevices !== undefined && !this.allowedDevices.has(reading.device)) {
              rejected += 1;
              continue;
            }
            const id = `${reading.device}/${reading.seq}`;
            if (!this.stored.has(id)) accepted += 1;
            this.stored.set(id, reading);
          }
          socket.write(
            encodeAck({
              frameId: frame.frameId,
              accepted,
              duplicates: received.readings.length - accepted - rejected,
              rejected,
            }),
          );
        }
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port)),
    );
  }

  /** Stops reading from every connection, so the emitter's socket buffers fill up. */
  pauseReading(): void {
    this.paused = true;
    for (const socket of this.sockets) socket.pause();
  }

  resumeReading(): void {
    this.paused = false;
    for (const socket of this.sockets) socket.resume();
  }

  /** Kills every open connection abruptly. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Sends raw bytes to every open connection (e.g. an ERROR or CLOSE frame). */
  broadcast(bytes: Buffer): void {
    for (const socket of this.sockets) socket.write(bytes);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
