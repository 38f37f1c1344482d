/**
 * An api node of live-fanout-compare.ts (a forked child): a Socket.IO server (the hub's server options
 * that matter here) whose subscribers join the overview room and/or device rooms named in their
 * handshake, fed by the transport of its arm:
 *   bus:   the hub's own BusCommittedFeed (its bounded drop-head queue on the committed fanout), each
 *          commit emitted to the rooms that have local members by live-fanout-rooms.ts, on `io.local`;
 *   redis: @socket.io/redis-adapter (ioredis pub/sub clients, the run's own key): the writer's emitter
 *          publishes room sends and the adapter relays them to the local members of the room.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { OVERVIEW_ROOM, deviceRoom, type ClientToServerEvents, type ServerToClientEvents } from '@sealstream/protocol';
import { BusCommittedFeed } from '../../packages/hub/dist/bus/bus-committed-feed.js';
import { emitCommit } from './live-fanout-rooms.js';
import { LatencySamples } from './percentiles.js';
import type { NodeCommand, NodeEvent, SubscriberAuth, TransportSettings } from './live-fanout-ipc.js';

/** The hub's api-node bounds of its committed-feed queue (cli/roles/bus-settings.ts). */
const FEED_MAX_QUEUED = 10_000;
const FEED_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

const settings = JSON.parse(process.argv[2] ?? '{}') as TransportSettings;

/**
 * Both arms hand each room's packet to the local sockets through the in-memory Adapter's broadcast (the
 * bus arm via `io.local`, the Redis adapter via `super.broadcast`): timing it splits the latency into the
 * hop to this node and the rest (encode, WebSocket, subscriber).
 */
const hop = new LatencySamples(200_000);
const localBroadcast = Adapter.prototype.broadcast;
Adapter.prototype.broadcast = function (this: Adapter, packet: unknown, opts) {
  const batch = (packet as { data?: unknown[] } | undefined)?.data?.[1] as
    { readings?: Array<{ seq: number; committedAt: number }> } | undefined;
  const first = batch?.readings?.[0];
  if (first !== undefined && first.seq >= 0) hop.add(Date.now() - first.committedAt);
  localBroadcast.call(this, packet, opts);
};

function send(event: NodeEvent): void {
  process.send?.(event);
}

async function main(): Promise<void> {
  const http = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, {
    serveClient: false,
    maxHttpBufferSize: 64 * 1024,
    transports: ['websocket'],
  });
  let commitsIn = 0;
  let sends = 0;
  let malformed = 0;
  const closers: Array<() => Promise<void>> = [];

  io.on('connection', (socket) => {
    const auth = socket.handshake.auth as Partial<SubscriberAuth>;
    const rooms = (Array.isArray(auth.devices) ? auth.devices : []).map((device) => deviceRoom(String(device)));
    if (auth.overview === true) rooms.push(OVERVIEW_ROOM);
    void Promise.resolve(socket.join(rooms)).then(() => socket.emit('stats', readyStats()));
  });

  if (settings.arm === 'bus') {
    const rooms = io.of('/').adapter.rooms;
    const feed = await BusCommittedFeed.open({
      url: settings.amqpUrl,
      prefix: settings.busPrefix,
      instance: `bench-${process.pid}`,
      maxQueuedMessages: FEED_MAX_QUEUED,
      maxQueuedBytes: FEED_MAX_QUEUED_BYTES,
      sink: {
        committed: (readings, committedAt) => {
          commitsIn += 1;
          const live = readings.map((r) => ({ device: r.device, seq: r.seq, ts: r.ts, committedAt, data: r.data }));
          sends += emitCommit(
            live,
            (room, batch) => io.local.to(room).emit('readings', batch),
            (room) => rooms.has(room),
          );
        },
        rejected: () => undefined,
      },
      onMalformed: () => (malformed += 1),
      onError: (error) => send({ type: 'error', message: String(error) }),
    });
    closers.push(() => feed.close());
  } else {
    const pub = new Redis({ host: settings.redisHost, port: settings.redisPort });
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub, { key: settings.redisKey }));
    closers.push(async () => {
      await pub.quit().catch(() => undefined);
      await sub.quit().catch(() => undefined);
    });
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const loopAtStart = performance.eventLoopUtilization();
  process.on('message', (command: NodeCommand) => {
    if (command.type === 'totals') {
      send({
        type: 'totals',
        commitsIn,
        sends,
        malformed,
        hopP50Ms: hop.percentile(50),
        hopP99Ms: hop.percentile(99),
        loopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
        loopUtilization: Math.round(performance.eventLoopUtilization(loopAtStart).utilization * 100) / 100,
      });
      return;
    }
    void (async () => {
      io.close();
      for (const close of closers) await close();
      process.exit(0);
    })();
  });
  send({ type: 'listening', port: (http.address() as AddressInfo).port });
}

/** The join is confirmed to the subscriber with a `stats` event (a hub event, so the typed client has it). */
function readyStats(): Parameters<ServerToClientEvents['stats']>[0] {
  return {
    totalReceived: 0,
    totalValid: 0,
    totalInvalid: 0,
    totalDuplicate: 0,
    successRate: 100,
    readingsPerSec: 0,
    rejectsPerSec: 0,
    rejectsByReason: {},
    at: Date.now(),
  };
}

main().catch((error: unknown) => {
  send({ type: 'error', message: String(error) });
  process.exit(1);
});
