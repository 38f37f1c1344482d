/**
 * autocork: what one turn writes to a socket leaves in one writev, all of it arrives, and amqplib's
 * connection still exposes the socket it is installed on (an amqplib upgrade that hid it would quietly
 * bring back a system call per frame).
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { amqpSocketOf, autocork } from '../../src/bus/socket-autocork.js';
import { amqpUrl, failIfRabbitRequired, rabbitAvailability } from '../support/rabbitmq.js';

const rabbit = await rabbitAvailability();

interface Pair {
  readonly server: Server;
  readonly client: Socket;
  readonly received: () => string;
}

async function pair(): Promise<Pair> {
  let text = '';
  const server = createServer((socket) => socket.on('data', (chunk: Buffer) => (text += chunk.toString())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
  await once(client, 'connect');
  return { server, client, received: () => text };
}

/** Counts the socket's calls into libuv: one per _write, one per _writev. */
function countWrites(socket: Socket): { single: number; vectored: number } {
  const counts = { single: 0, vectored: 0 };
  const internals = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const single = internals._write.bind(socket);
  const vectored = internals._writev.bind(socket);
  internals._write = (...args) => {
    counts.single += 1;
    single(...args);
  };
  internals._writev = (...args) => {
    counts.vectored += 1;
    vectored(...args);
  };
  return counts;
}

describe('autocork', () => {
  const opened: Pair[] = [];
  afterEach(async () => {
    for (const { server, client } of opened.splice(0)) {
      client.destroy();
      server.close();
    }
  });

  it('sends the writes of one turn as one writev, and the next turn as another', async () => {
    const p = await pair();
    opened.push(p);
    autocork(p.client);
    autocork(p.client); // twice: still one wrapper
    const counts = countWrites(p.client);
    for (let i = 0; i < 5; i += 1) p.client.write(`a${i};`);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 3; i += 1) p.client.write(`b${i};`);
    const until = Date.now() + 5_000;
    while (p.received().length < 'a0;a1;a2;a3;a4;b0;b1;b2;'.length && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(p.received()).toBe('a0;a1;a2;a3;a4;b0;b1;b2;');
    expect(counts).toEqual({ single: 0, vectored: 2 });
  });

  it('without it, each write is a call of its own (what the test above guards against)', async () => {
    const p = await pair();
    opened.push(p);
    const counts = countWrites(p.client);
    for (let i = 0; i < 5; i += 1) p.client.write(`a${i};`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counts.single + counts.vectored).toBeGreaterThan(1);
  });

  it.skipIf(!rabbit.available && process.env['CI'] !== 'true')(
    `finds the socket under an amqplib connection${rabbit.available ? '' : ' (skipped: RabbitMQ unreachable)'}`,
    async () => {
      failIfRabbitRequired(rabbit);
      const model = await amqp.connect(amqpUrl());
      try {
        expect(amqpSocketOf(model.connection)).toBeDefined();
      } finally {
        await model.close();
      }
    },
  );
});
