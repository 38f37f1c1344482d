/**
 * A scaled-out hub for end-to-end tests: gateway, writer and api processes of the built CLI on one
 * PostgreSQL schema, one RabbitMQ vhost, one Redis key prefix and one bus prefix of their own, plus a
 * TCP front that sends devices to the first gateway that answers (what a load balancer does when one
 * dies), and a v2 Socket.IO client of an api node that subscribes to every device it is told of.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { io as connectLive, type Socket as LiveSocket } from 'socket.io-client';
import type { ClientToServerEvents, LiveStats, ServerToClientEvents } from '@sealstream/protocol';
import { startHub, type HubProcess } from '@sealstream/testkit';
import { pgTestUrl, uniqueTestSchema } from '../../packages/hub/test/support/postgres.js';
import { amqpUrl, createVhost } from '../../packages/hub/test/support/rabbitmq.js';
import { REDIS_TEST_URL, uniqueKeyPrefix } from '../../packages/hub/test/support/redis.js';

export const KEY_ID = 'fleet';
export const SECRET = randomBytes(32);

export interface ClusterSetup {
  readonly schema: string;
  readonly vhost: string;
  readonly redisPrefix: string;
  readonly busPrefix: string;
  readonly env: Record<string, string>;
  readonly common: string[];
}

/** `redisUrl`: a Redis of the test's own (one it may cut); default the machine's shared one. */
export async function clusterSetup(redisUrl: string = REDIS_TEST_URL): Promise<ClusterSetup> {
  const schema = uniqueTestSchema('scale');
  const vhost = await createVhost();
  const redisPrefix = uniqueKeyPrefix();
  const busPrefix = `ss-${randomBytes(3).toString('hex')}`;
  return {
    schema,
    vhost,
    redisPrefix,
    busPrefix,
    env: {
      SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
      SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
    },
    common: [
      '--database-url',
      pgTestUrl(),
      '--database-schema',
      schema,
      '--amqp-url',
      amqpUrl(vhost),
      '--redis-url',
      redisUrl,
      '--redis-key-prefix',
      redisPrefix,
      '--bus-prefix',
      busPrefix,
      '--bus-partitions',
      '4',
      '--live-public',
      'true',
      '--legacy-port',
      'off',
      '--log-level',
      'warn',
    ],
  };
}

export interface RoleProcess extends HubProcess {
  readonly instance: string;
  readonly role: string;
}

export async function startRole(setup: ClusterSetup, role: string, instance: string): Promise<RoleProcess> {
  const hub = await startHub({
    args: ['--role', role, '--instance', instance, '--tcp-port', '0', ...setup.common],
    env: setup.env,
    startTimeoutMs: 60_000,
  });
  return Object.assign(hub, { instance, role });
}

/** A TCP front for devices: each new connection goes to the first listed gateway that accepts it. */
export class GatewayFront {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly targets: () => readonly number[],
  ) {}

  static async open(targets: () => readonly number[]): Promise<GatewayFront> {
    const server = createServer();
    const front = new GatewayFront(server, targets);
    server.on('connection', (socket) => front.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(device: Socket): void {
    this.sockets.add(device);
    device.pause();
    const tryTarget = (index: number): void => {
      const port = this.targets()[index];
      if (port === undefined) {
        device.destroy();
        return;
      }
      const upstream = connectTcp(port, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.once('error', () => {
        this.sockets.delete(upstream);
        if (!upstream.readable || upstream.connecting) tryTarget(index + 1);
        else device.destroy();
      });
      upstream.once('connect', () => {
        device.pipe(upstream);
        upstream.pipe(device);
        device.resume();
        const end = (): void => {
          device.destroy();
          upstream.destroy();
          this.sockets.delete(device);
          this.sockets.delete(upstream);
        };
        device.once('close', end);
        upstream.once('close', end);
        device.on('error', end);
        upstream.on('error', end);
      });
    };
    tryTarget(0);
  }
}

export type LiveClient = LiveSocket<ServerToClientEvents, ClientToServerEvents>;

/** A v2 live client of an api node: every reading of the devices it subscribed to, and the last stats. */
export class LiveWatcher {
  readonly seen = new Set<string>();
  lastStats: LiveStats | undefined;
  private constructor(readonly socket: LiveClient) {}

  static async open(httpPort: number, devices: readonly string[]): Promise<LiveWatcher> {
    const socket: LiveClient = connectLive(`http://127.0.0.1:${httpPort}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { protocol: 2 },
    });
    const watcher = new LiveWatcher(socket);
    socket.on('readings', (batch) => {
      if (batch.room === 'overview') return;
      for (const reading of batch.readings) watcher.seen.add(`${reading.device}/${reading.seq}`);
    });
    socket.on('stats', (stats) => (watcher.lastStats = stats));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    socket.emit('subscribe', { devices: [...devices] });
    return watcher;
  }

  close(): void {
    this.socket.disconnect();
  }
}
