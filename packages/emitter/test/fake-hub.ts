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
  answer: (frame: ReceivedFrame, index: number) => Answer = () => ({ kind: 'ack' });
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(secret: Uint8Array) {
    const key = deriveDeviceKey(secret);
    this.server = createServer((socket) => {
      const connection = ++this.connections;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const item of decoder.push(Buffer.from(chunk))) {
          if (!item.ok) throw new Error(`emitter sent a bad frame: ${item.reason}`);
          const frame = item.frame;
          if (frame.type === FrameType.Ping) socket.write(encodePong(frame.nonce));
          if (frame.type !== FrameType.Data) continue;
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
          for (const reading of received.readings) {
            const id = `${reading.device}/${reading.seq}`;
            if (!this.stored.has(id)) accepted += 1;
            this.stored.set(id, reading);
          }
          socket.write(
            encodeAck({
              frameId: frame.frameId,
              accepted,
              duplicates: received.readings.length - accepted,
              rejected: 0,
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

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
