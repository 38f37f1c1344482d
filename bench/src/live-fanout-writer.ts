/**
 * The writer of live-fanout-compare.ts (a forked child): commits readings at a fixed rate, a commit of
 * rate × commitEveryMs readings (devices in turn) every `commitEveryMs`, and hands each
 * commit to the live transport of its arm, stamped with the publish time as `committedAt`:
 *   bus:   one message per commit on the `<prefix>.committed` fanout exchange, in the bus's wire shape
 *          (encodeBusBatch) with the writer's commit-time header, over the hub's own BusConnection
 *          (Nagle off, writes corked per turn) — as the hub's BusWriter publishes its commit feed;
 *   redis: the commit's room sends (live-fanout-rooms.ts) through @socket.io/redis-emitter, one Redis
 *          PUBLISH per room, on an ioredis client with auto-pipelining (the Redis analogue of corking).
 * Readings of the warm-up carry negative seqs, so subscribers leave them out of the figures.
 */
import type { Channel } from 'amqplib';
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import type { LiveReading, ServerToClientEvents } from '@sealstream/protocol';
import { encodeBusBatch } from '../../packages/hub/dist/bus/bus-batch-codec.js';
import { COMMITTED_AT_HEADER } from '../../packages/hub/dist/bus/bus-committed-feed.js';
import { BusConnection } from '../../packages/hub/dist/bus/bus-connection.js';
import { busNames } from '../../packages/hub/dist/bus/bus-topology.js';
import type { VerifiedReading } from '../../packages/hub/dist/pipeline/ports.js';
import { emitCommit } from './live-fanout-rooms.js';
import { deviceName, type WriterCommand, type WriterEvent, type WriterSettings } from './live-fanout-ipc.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as WriterSettings;
const drain = { waits: 0, ms: 0 };

function send(event: WriterEvent): void {
  process.send?.(event);
}

/** Publishes one commit; resolves when the transport can take the next (backpressure). */
type Publish = (readings: readonly VerifiedReading[], committedAt: number) => Promise<number> | number;

async function openBus(): Promise<{ publish: Publish; close: () => Promise<void> }> {
  const names = busNames(settings.busPrefix);
  let channel: Channel | undefined;
  const connection = await BusConnection.open({
    url: settings.amqpUrl,
    name: 'sealstream bench fanout writer',
    setup: async (model) => {
      channel = await model.createChannel();
      await channel.assertExchange(names.committed, 'fanout', { durable: true });
    },
    onDown: () => undefined,
  });
  const publish: Publish = async (readings, committedAt) => {
    const target = channel;
    if (target === undefined) return 0;
    const ok = target.publish(names.committed, '', encodeBusBatch({ readings, deadLetters: [] }), {
      contentType: 'application/json',
      timestamp: Math.floor(committedAt / 1000),
      headers: { [COMMITTED_AT_HEADER]: committedAt },
    });
    if (!ok) {
      const started = performance.now();
      await new Promise((resolve) => target.once('drain', resolve));
      drain.waits += 1;
      drain.ms += performance.now() - started;
    }
    return 1;
  };
  return { publish, close: () => connection.close() };
}

function openRedis(): { publish: Publish; close: () => Promise<void> } {
  const client = new Redis({ host: settings.redisHost, port: settings.redisPort, enableAutoPipelining: true });
  const emitter = new Emitter<ServerToClientEvents>(client, { key: settings.redisKey });
  const publish: Publish = (readings, committedAt) => {
    const live: LiveReading[] = readings.map((r) => ({
      device: r.device,
      seq: r.seq,
      ts: r.ts,
      committedAt,
      data: r.data,
    }));
    return emitCommit(live, (room, batch) => void emitter.to(room).emit('readings', batch));
  };
  return {
    publish,
    close: async () => {
      await client.quit().catch(() => undefined);
    },
  };
}

async function main(): Promise<void> {
  const transport = settings.arm === 'bus' ? await openBus() : openRedis();
  let stopped = false;
  process.on('message', (command: WriterCommand) => {
    if (command.type === 'go') void run(command.warmupMs, command.seconds);
    else stopped = true;
  });
  send({ type: 'ready' });

  async function run(warmupMs: number, seconds: number): Promise<void> {
    try {
      let warmSeq = -1;
      let seq = 0;
      let device = 0;
      let commits = 0;
      let overviewSent = 0;
      let publishes = 0;
      let lateCommits = 0;
      const perDevice: Record<string, number> = {};
      // Commits of one size on a fixed schedule, so both arms carry the same commits; a writer that falls
      // behind catches up with more commits of that size (counted as late), never with bigger ones.
      const perCommit = Math.max(1, Math.round((settings.rate * settings.commitEveryMs) / 1000));

      let timedMs = 0;
      for (const phase of ['warmup', 'timed'] as const) {
        const total = Math.round(((phase === 'warmup' ? warmupMs / 1000 : seconds) * settings.rate) / perCommit);
        if (phase === 'timed') send({ type: 'timed' });
        const start = performance.now();
        for (let k = 0; k < total;) {
          if (stopped) return;
          let inTurn = 0;
          // Every commit whose time has come (a few per turn at most, so IPC is still served).
          while (k < total && performance.now() >= start + k * settings.commitEveryMs && inTurn < 16) {
            const now = Date.now();
            const readings: VerifiedReading[] = [];
            const seen = new Set<string>();
            for (let i = 0; i < perCommit; i += 1) {
              const name = deviceName(device);
              device = (device + 1) % settings.devices;
              const s = phase === 'timed' ? seq++ : warmSeq--;
              readings.push({
                device: name,
                seq: s,
                ts: now,
                receivedAt: now,
                source: 'tcp',
                data: { temp: 20 + (Math.abs(s) % 50) / 10, load: Math.abs(s) % 97, ok: true },
              });
              if (phase === 'timed') {
                perDevice[name] = (perDevice[name] ?? 0) + 1;
                seen.add(name);
              }
            }
            // The publish time is what every arrival is timed from.
            publishes += await transport.publish(readings, Date.now());
            if (phase === 'timed') {
              commits += 1;
              overviewSent += seen.size;
              if (inTurn > 0) lateCommits += 1;
            }
            inTurn += 1;
            k += 1;
          }
          const wait = start + k * settings.commitEveryMs - performance.now();
          await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
        }
        if (phase === 'timed') timedMs = performance.now() - start;
      }
      send({
        type: 'done',
        sent: seq,
        elapsedMs: timedMs,
        commits,
        overviewSent,
        perDevice,
        publishes,
        lateCommits,
        drainWaits: drain.waits,
        drainWaitMs: Math.round(drain.ms),
      });
    } catch (error) {
      send({ type: 'error', message: String(error) });
    }
  }

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (!stopped) return;
      clearInterval(timer);
      resolve();
    }, 50);
  });
  await transport.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  send({ type: 'error', message: String(error) });
  process.exit(1);
});
