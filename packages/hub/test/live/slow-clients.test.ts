/** Slow live clients are skipped and counted, never queued without bound; they later get the latest state. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ServerSocket } from 'socket.io';
import {
  collect,
  deadLetter,
  reading,
  sampleValue,
  sleep,
  startHarness,
  waitFor,
  type Harness,
  type LiveClient,
} from './live-harness.js';

const TICK_MS = 10;
let harness: Harness | undefined;
let feeder: NodeJS.Timeout | undefined;

afterEach(async () => {
  clearInterval(feeder);
  await harness?.close();
  harness = undefined;
});

function serverSocket(h: Harness, client: LiveClient): ServerSocket {
  const socket = client.id === undefined ? undefined : h.io.of('/').sockets.get(client.id);
  if (socket === undefined) throw new Error('no server-side socket for the client');
  return socket as unknown as ServerSocket;
}

/** Packets engine.io holds for this client and has not yet handed to the transport. */
function queuedPackets(socket: ServerSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/** The ws connection under a socket.io-client socket, so a test can stop reading from it. */
function rawWebSocket(client: LiveClient): { pause(): void; resume(): void } {
  return (client.io.engine.transport as unknown as { ws: { pause(): void; resume(): void } }).ws;
}

describe('slow clients', () => {
  it('skips every client when no packet may be buffered, counts every drop, and clears the tick buffers', async () => {
    const h = (harness = await startHarness({ tickMs: TICK_MS, maxBufferedPackets: 0, maxReadingsPerTick: 50 }));
    const v2 = await h.client({ protocol: 2 });
    const legacy = await h.client();
    v2.emit('subscribe', { devices: ['dev-0'] });
    await waitFor(() => h.io.of('/').adapter.rooms.has('device:dev-0'), 'subscription');
    const received = [
      collect(v2, 'readings'),
      collect(v2, 'stats'),
      collect(v2, 'rejects'),
      collect(legacy, 'message:new'),
      collect(legacy, 'stats:update'),
    ];

    // 10 000 readings over 5 000 devices: the buffers keep at most 50 overview devices and 50 of dev-0.
    const burst = Array.from({ length: 10_000 }, (_, i) => reading(`dev-${i % 5_000}`, i));
    h.hub.sink.committed(burst, 1);
    h.hub.sink.committed([reading('legacy-1', 1, 'legacy', { name: 'n', origin: 'o', destination: 'd' })], 2);
    h.hub.sink.rejected([deadLetter('one')]);
    expect(h.hub.pendingItems()).toBe(50 + 2 + 1 + 1);
    await waitFor(() => h.hub.pendingItems() === 0, 'tick');
    const dropped = async (kind: string) => sampleValue(h.metrics, `sealstream_live_dropped_total{kind="${kind}"}`);
    // Overview: 50 held + 9 900 readings of devices over the cap + legacy-1's; dev-0: seq 0 and 5000.
    const expectedReadings = 50 + 9_900 + 1 + 2;
    expect(await dropped('readings')).toBe(expectedReadings);
    expect(await dropped('rejects')).toBe(1);
    expect(await dropped('legacy')).toBe(1);

    await sleep(TICK_MS * 5);
    expect(received.map((events) => events.length)).toEqual([0, 0, 0, 0, 0]);
    expect(queuedPackets(serverSocket(h, v2))).toBe(0);
    expect(queuedPackets(serverSocket(h, legacy))).toBe(0);
    expect(await dropped('readings')).toBe(expectedReadings);
  });

  it('stops queueing for a client that does not read, then sends it the latest state when it reads again', async () => {
    const maxBufferedPackets = 4;
    const h = (harness = await startHarness({ tickMs: TICK_MS, maxBufferedPackets, maxReadingsPerTick: 20 }));
    const client = await h.client({ protocol: 2 });
    const readings = collect(client, 'readings');
    const stats = collect(client, 'stats');
    await waitFor(() => stats.length > 0, 'first stats');
    const server = serverSocket(h, client);

    rawWebSocket(client).pause();
    // ~320 KB per tick until the loopback buffers are full and engine.io starts holding packets.
    const bulk = 'x'.repeat(16_000);
    let seq = 0;
    let mostQueued = 0;
    feeder = setInterval(() => {
      mostQueued = Math.max(mostQueued, queuedPackets(server));
      const batch = Array.from({ length: 20 }, (_, device) => reading(`dev-${device}`, seq, 'tcp', { bulk, seq }));
      seq += 1;
      h.hub.sink.committed(batch, seq);
    }, TICK_MS);

    const droppedReadings = async () =>
      (await sampleValue(h.metrics, 'sealstream_live_dropped_total{kind="readings"}')) ?? 0;
    const deadline = Date.now() + 10_000;
    while ((await droppedReadings()) === 0) {
      if (Date.now() > deadline) throw new Error('the paused client was never skipped');
      await sleep(TICK_MS);
    }
    // Keep feeding a while longer: the queue for the paused client must not grow past the bound.
    const droppedAtFirst = await droppedReadings();
    await sleep(TICK_MS * 20);
    clearInterval(feeder);
    mostQueued = Math.max(mostQueued, queuedPackets(server));
    expect(await droppedReadings()).toBeGreaterThan(droppedAtFirst);
    // One tick adds at most an overview batch and a stats packet on top of what was already queued.
    expect(mostQueued).toBeLessThanOrEqual(maxBufferedPackets - 1 + 2);
    expect(h.hub.pendingItems()).toBeLessThanOrEqual(20);

    const lastSeq = seq - 1;
    rawWebSocket(client).resume();
    await waitFor(
      () => readings.some((batch) => batch.readings.some((r) => r.device === 'dev-7' && r.seq === lastSeq)),
      'latest state after resuming',
      10_000,
    );
    expect(client.connected).toBe(true);
  });
});
