/** LiveHub over real sockets: coalesced v2 batches, device rooms, legacy events, rejects, auth, bad requests. */
import { afterEach, describe, expect, it } from 'vitest';
import { deviceRoom, type ServerToClientEvents } from '@sealstream/protocol';
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

const TICK_MS = 20;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  harness = await startHarness({ tickMs: TICK_MS, ...options });
  return harness;
}

/** A v2 client that a tick has already seen (its first `stats` arrived), with collectors attached first. */
async function v2Client(h: Harness, auth: Record<string, unknown> = {}) {
  const socket = await h.client({ protocol: 2, ...auth });
  const events = {
    readings: collect(socket, 'readings'),
    rejects: collect(socket, 'rejects'),
    stats: collect(socket, 'stats'),
    legacy: collect(socket, 'message:new'),
  };
  await waitFor(() => events.stats.length > 0, 'first stats');
  return { socket, ...events };
}

function roomBatches(batches: Array<Parameters<ServerToClientEvents['readings']>[0]>, room: string) {
  return batches.filter((batch) => batch.room === room);
}

async function subscribed(h: Harness, socket: LiveClient, devices: string[]): Promise<void> {
  socket.emit('subscribe', { devices });
  const last = devices[devices.length - 1] ?? '';
  await waitFor(() => (h.io.of('/').adapter.rooms.get(deviceRoom(last))?.size ?? 0) > 0, `room of ${last}`);
}

describe('v2 clients', () => {
  it('receives many committed() calls within one tick as one coalesced overview batch, latest per device', async () => {
    const h = await start();
    const client = await v2Client(h);
    for (let seq = 0; seq < 50; seq += 1) h.hub.sink.committed([reading(`dev-${seq % 10}`, seq)], 1_000 + seq);

    await waitFor(() => client.readings.length > 0, 'overview batch');
    await sleep(TICK_MS * 5);
    expect(client.readings).toHaveLength(1);
    const batch = client.readings[0];
    expect(batch?.room).toBe('overview');
    expect(batch?.dropped).toBe(0);
    const byDevice = new Map(batch?.readings.map((r) => [r.device, r]));
    expect(byDevice.size).toBe(10);
    for (let device = 0; device < 10; device += 1) {
      const latestSeq = 40 + device;
      expect(byDevice.get(`dev-${device}`)).toEqual({
        device: `dev-${device}`,
        seq: latestSeq,
        ts: 1_700_000_000_000 + latestSeq,
        committedAt: 1_000 + latestSeq,
        data: { value: latestSeq },
      });
    }
  });

  it('delivers every reading of a subscribed device up to the cap and counts the rest as dropped', async () => {
    const h = await start({ maxReadingsPerTick: 50 });
    const client = await v2Client(h);
    await subscribed(h, client.socket, ['dev-a']);

    const burst = [];
    for (let seq = 0; seq < 120; seq += 1) burst.push(reading('dev-a', seq));
    h.hub.sink.committed(burst.slice(0, 60), 5_000);
    h.hub.sink.committed([...burst.slice(60), reading('dev-b', 7)], 5_001);

    await waitFor(() => roomBatches(client.readings, 'device:dev-a').length > 0, 'device batch');
    await waitFor(() => roomBatches(client.readings, 'overview').length > 0, 'overview batch');
    const [deviceBatch] = roomBatches(client.readings, 'device:dev-a');
    expect(deviceBatch?.readings.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(deviceBatch?.dropped).toBe(70);
    expect(roomBatches(client.readings, 'device:dev-b')).toHaveLength(0);
    const [overview] = roomBatches(client.readings, 'overview');
    expect(overview?.readings.map((r) => [r.device, r.seq]).sort()).toEqual([
      ['dev-a', 119],
      ['dev-b', 7],
    ]);
    expect(await sampleValue(h.metrics, 'sealstream_live_dropped_total{kind="readings"}')).toBe(70);

    client.socket.emit('unsubscribe', { devices: ['dev-a'] });
    await waitFor(() => h.io.of('/').adapter.rooms.get(deviceRoom('dev-a')) === undefined, 'room left');
    h.hub.sink.committed([reading('dev-a', 500)], 6_000);
    await waitFor(() => roomBatches(client.readings, 'overview').length > 1, 'second overview batch');
    await sleep(TICK_MS * 3);
    expect(roomBatches(client.readings, 'device:dev-a')).toHaveLength(1);
  });

  it('sends rejects without raw bytes, capped per tick', async () => {
    const h = await start({ maxRejectsPerTick: 2 });
    const client = await v2Client(h);
    h.hub.sink.rejected([deadLetter('first'), deadLetter('second'), deadLetter('third')]);

    await waitFor(() => client.rejects.length > 0, 'rejects batch');
    expect(client.rejects[0]).toEqual({
      rejects: [
        { reason: 'integrity_failed', source: 'tcp', device: 'dev-x', detail: 'first', at: 1_700_000_001_000 },
        { reason: 'integrity_failed', source: 'tcp', device: 'dev-x', detail: 'second', at: 1_700_000_001_000 },
      ],
      dropped: 1,
    });
    expect(await sampleValue(h.metrics, 'sealstream_live_dropped_total{kind="rejects"}')).toBe(1);
  });

  it('sends a newly connected client the latest state of every device seen so far', async () => {
    const h = await start();
    const first = await v2Client(h);
    h.hub.sink.committed([reading('dev-1', 1), reading('dev-2', 2), reading('dev-1', 3)], 7_000);
    await waitFor(() => first.readings.length > 0, 'first client batch');

    const late = await h.client({ protocol: 2 });
    const lateReadings = collect(late, 'readings');
    await waitFor(() => lateReadings.length > 0, 'catch-up batch');
    expect(lateReadings[0]?.room).toBe('overview');
    expect(lateReadings[0]?.readings.map((r) => [r.device, r.seq]).sort()).toEqual([
      ['dev-1', 3],
      ['dev-2', 2],
    ]);
  });

  it('ignores and counts malformed or over-limit subscribe requests without disconnecting the client', async () => {
    const h = await start();
    const client = await v2Client(h);
    const bad: unknown[] = [
      'dev-a',
      null,
      { devices: 'dev-a' },
      { devices: ['bad id!'] },
      { devices: [42] },
      { devices: Array.from({ length: 101 }, (_, i) => `d-${i}`) },
    ];
    for (const request of bad) client.socket.emit('subscribe', request as never);
    await subscribed(h, client.socket, ['ok-1']);
    expect(await sampleValue(h.metrics, 'sealstream_live_invalid_requests_total')).toBe(bad.length);
    expect(h.io.of('/').adapter.rooms.has(deviceRoom('bad id!'))).toBe(false);
    expect(client.socket.connected).toBe(true);

    // 1 + 60 + 60 devices: only 100 fit; the request that overflows is counted once.
    await subscribed(
      h,
      client.socket,
      Array.from({ length: 60 }, (_, i) => `a-${i}`),
    );
    client.socket.emit('subscribe', { devices: Array.from({ length: 60 }, (_, i) => `b-${i}`) });
    await waitFor(() => h.io.of('/').adapter.rooms.has(deviceRoom('b-38')), 'rooms up to the cap');
    await sleep(TICK_MS * 2);
    const deviceRooms = [...h.io.of('/').adapter.rooms.keys()].filter((room) => room.startsWith('device:'));
    expect(deviceRooms).toHaveLength(100);
    expect(h.io.of('/').adapter.rooms.has(deviceRoom('b-39'))).toBe(false);
    expect(await sampleValue(h.metrics, 'sealstream_live_invalid_requests_total')).toBe(bad.length + 1);
  });
});

describe('legacy clients (no protocol in the handshake)', () => {
  it('get message:new with exactly the seed fields for legacy readings, and stats:update when the totals change', async () => {
    const h = await start();
    const socket = await h.client();
    const messages = collect(socket, 'message:new');
    const statsUpdates = collect(socket, 'stats:update');
    const readings = collect(socket, 'readings');
    await waitFor(() => statsUpdates.length === 1, 'initial stats:update');
    expect(statsUpdates[0]).toStrictEqual({ totalReceived: 0, totalValid: 0, totalInvalid: 0, successRate: 100 });

    const message = { name: 'Jack Reacher', origin: 'Bengaluru', destination: 'Mumbai' };
    const first = reading('legacy-1', 1, 'legacy', message);
    h.hub.sink.committed(
      [
        first,
        reading('dev-tcp', 2, 'tcp', { name: 'not', origin: 'a', destination: 'legacy reading' }),
        reading('legacy-1', 3, 'legacy', { ...message, name: 'Second' }),
      ],
      9_000,
    );
    h.stats.current = { ...h.stats.current, totalReceived: 3, totalValid: 2, totalInvalid: 1, successRate: 66.67 };

    await waitFor(() => messages.length === 2 && statsUpdates.length === 2, 'messages and new stats');
    expect(messages[0]).toStrictEqual({ ...message, receivedAt: new Date(first.receivedAt).toISOString() });
    expect(Object.keys(messages[0] ?? {}).sort()).toEqual(['destination', 'name', 'origin', 'receivedAt']);
    expect(messages[1]?.name).toBe('Second');
    expect(statsUpdates[1]).toStrictEqual({ totalReceived: 3, totalValid: 2, totalInvalid: 1, successRate: 66.67 });

    await sleep(TICK_MS * 5);
    expect(messages).toHaveLength(2);
    expect(statsUpdates).toHaveLength(2);
    expect(readings).toHaveLength(0);
  });

  it('get stats:update at most once per stats interval however often commits move the totals', async () => {
    const h = await start({ statsIntervalMs: 200 });
    const socket = await h.client();
    const statsUpdates = collect(socket, 'stats:update');
    h.stats.current = { ...h.stats.current, totalInvalid: 1 };
    await waitFor(() => statsUpdates.at(-1)?.totalInvalid === 1, 'a stats:update');
    statsUpdates.length = 0;
    const started = Date.now();
    let seq = 0;
    while (Date.now() - started < 600) {
      seq += 1;
      h.stats.current = { ...h.stats.current, totalReceived: seq, totalValid: seq };
      h.hub.sink.committed([reading('legacy-1', seq, 'legacy', { name: 'n', origin: 'o', destination: 'd' })], 9_000);
      await sleep(5);
    }
    await waitFor(() => statsUpdates.at(-1)?.totalValid === seq, 'the newest totals');
    // About 100 commits in 600 ms, each moving the totals: at most one update per 200 ms (+1 for timing).
    expect(seq).toBeGreaterThan(30);
    expect(statsUpdates.length).toBeLessThanOrEqual(5);
  });

  it('caps message:new per tick and counts the rest', async () => {
    const h = await start({ maxLegacyMessagesPerTick: 5 });
    const socket = await h.client();
    const messages = collect(socket, 'message:new');
    const statsUpdates = collect(socket, 'stats:update');
    // The first stats:update may arrive with the CONNECT packet, before the collector is attached: new
    // totals make the hub send one more, which proves the client is attached.
    h.stats.current = { ...h.stats.current, totalReceived: 1 };
    await waitFor(() => statsUpdates.at(-1)?.totalReceived === 1, 'a stats:update');
    const burst = Array.from({ length: 8 }, (_, i) =>
      reading('legacy-1', i, 'legacy', { name: `n${i}`, origin: 'o', destination: 'd' }),
    );
    h.hub.sink.committed(burst, 9_000);
    await waitFor(() => messages.length === 5, 'five messages');
    await sleep(TICK_MS * 3);
    expect(messages.map((m) => m.name)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect(await sampleValue(h.metrics, 'sealstream_live_dropped_total{kind="legacy"}')).toBe(3);
  });
});

describe('handshake auth', () => {
  it('refuses a wrong or missing token and admits the right one', async () => {
    const h = await start({ authToken: 'live-s3cret' });
    expect(await h.refusedClient({ protocol: 2, token: 'wrong' })).toBe('unauthorized');
    expect(await h.refusedClient({ protocol: 2 })).toBe('unauthorized');
    expect(await h.refusedClient()).toBe('unauthorized');
    expect(await h.refusedClient({ protocol: 2, token: 'live-s3cret-and-more' })).toBe('unauthorized');
    const admitted = await h.client({ protocol: 2, token: 'live-s3cret' });
    expect(admitted.connected).toBe(true);
    const legacy = await h.client({ token: 'live-s3cret' });
    expect(legacy.connected).toBe(true);
    await waitFor(() => h.hub.clientCount() === 2, 'two clients');
  });
});

describe('client bookkeeping', () => {
  it('tracks connected clients in clientCount() and sealstream_live_clients', async () => {
    const h = await start();
    expect(await sampleValue(h.metrics, 'sealstream_live_clients')).toBe(0);
    const a = await h.client({ protocol: 2 });
    await h.client();
    await waitFor(() => h.hub.clientCount() === 2, 'two clients');
    expect(await sampleValue(h.metrics, 'sealstream_live_clients')).toBe(2);
    a.disconnect();
    await waitFor(() => h.hub.clientCount() === 1, 'one client');
    expect(await sampleValue(h.metrics, 'sealstream_live_clients')).toBe(1);
  });

  it('buffers nothing while no client is connected', async () => {
    const h = await start();
    h.hub.sink.committed([reading('dev-1', 1), reading('legacy', 2, 'legacy')], 1);
    h.hub.sink.rejected([deadLetter('x')]);
    expect(h.hub.pendingItems()).toBe(0);
  });
});
