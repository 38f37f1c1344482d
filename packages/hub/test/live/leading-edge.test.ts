/**
 * Live sends on the leading edge: watched devices' readings and rejects are sent without waiting for the
 * tick (here far longer than any wait in the test, so without the leading edge nothing would arrive at
 * all), and what is committed while a send is pending is coalesced into that one send. The overview
 * (latest reading per device) is sent with the tick only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { noopLiveMetrics } from '../../src/live/live-metrics.js';
import { OVERVIEW_ROOM, deviceRoom } from '@sealstream/protocol';
import { collect, reading, sleep, startHarness, waitFor, type Harness } from './live-harness.js';

const LONG_TICK_MS = 600_000;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('live leading edge', () => {
  async function subscribed(h: Harness, devices: string[]) {
    const socket = await h.client({ protocol: 2 });
    const readings = collect(socket, 'readings');
    await waitFor(() => h.hub.clientCount() === 1, 'client registered');
    socket.emit('subscribe', { devices });
    const last = devices[devices.length - 1] ?? '';
    await waitFor(() => (h.io.of('/').adapter.rooms.get(deviceRoom(last))?.size ?? 0) > 0, `room of ${last}`);
    return readings;
  }

  it("sends watched devices' readings without waiting for the tick, coalescing what arrives together", async () => {
    const h = (harness = await startHarness({ tickMs: LONG_TICK_MS }));
    const readings = await subscribed(h, ['dev-a', 'dev-b', 'dev-c']);

    // Two calls in one loop turn still coalesce into one send: one batch per room.
    h.hub.sink.committed([reading('dev-a', 1)], 10);
    h.hub.sink.committed([reading('dev-a', 2), reading('dev-b', 3)], 11);
    await waitFor(() => readings.length >= 2, 'leading-edge send');
    await sleep(100);
    const rooms = (batches: typeof readings) =>
      batches.map((batch) => [batch.room, batch.readings.map((r) => r.seq)]).sort();
    expect(rooms(readings)).toEqual([
      ['device:dev-a', [1, 2]],
      ['device:dev-b', [3]],
    ]);

    // Later commits go out in a second send, long before the tick.
    h.hub.sink.committed([reading('dev-c', 4)], 12);
    h.hub.sink.committed([reading('dev-a', 5)], 13);
    await waitFor(() => readings.length >= 4, 'second send');
    await sleep(100);
    expect(rooms(readings.slice(2))).toEqual([
      ['device:dev-a', [5]],
      ['device:dev-c', [4]],
    ]);
  });

  it('keeps the overview (latest per device) for the tick: never sent on the leading edge', async () => {
    const h = (harness = await startHarness({ tickMs: 300 }));
    const readings = await subscribed(h, ['dev-a']);
    const sentAt = Date.now();
    h.hub.sink.committed([reading('dev-a', 1), reading('dev-z', 2)], 10);
    await waitFor(() => readings.some((batch) => batch.room === OVERVIEW_ROOM), 'overview at the tick');
    const deviceBatch = readings.findIndex((batch) => batch.room === 'device:dev-a');
    const overviewBatch = readings.findIndex((batch) => batch.room === OVERVIEW_ROOM);
    // The watched device's reading went first, on the leading edge; the overview came with the tick.
    expect(deviceBatch).toBeGreaterThanOrEqual(0);
    expect(deviceBatch).toBeLessThan(overviewBatch);
    expect(readings[overviewBatch]?.readings.map((r) => r.device).sort()).toEqual(['dev-a', 'dev-z']);
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    // Only the overview's devices were committed: nothing is sent before the tick.
    const before = readings.length;
    h.hub.sink.committed([reading('dev-y', 3)], 20);
    await sleep(20);
    expect(readings.length).toBe(before);
    expect(h.hub.pendingItems()).toBe(1);
  });

  it('reports how long each data send came after the oldest commit it carries', async () => {
    const delays: number[] = [];
    let now = 1_000_000;
    const h = (harness = await startHarness({
      tickMs: LONG_TICK_MS,
      now: () => now,
      metrics: { ...noopLiveMetrics, sendDelay: (seconds) => delays.push(seconds) },
    }));
    const readings = await subscribed(h, ['dev-a', 'dev-b']);
    now = 1_000_040;
    // Committed at 1 000 000 and 1 000 030, sent at 1 000 040: the send is 40 ms after the oldest.
    h.hub.sink.committed([reading('dev-a', 1)], 1_000_000);
    h.hub.sink.committed([reading('dev-b', 2)], 1_000_030);
    await waitFor(() => readings.length >= 2, 'leading-edge send');
    expect(delays).toEqual([0.04]);
    now = 1_000_100;
    h.hub.sink.committed([reading('dev-a', 3)], 1_000_095);
    await waitFor(() => readings.length >= 3, 'second send');
    expect(delays).toEqual([0.04, 0.005]);
  });

  it('sends rejects on the leading edge too', async () => {
    const h = (harness = await startHarness({ tickMs: LONG_TICK_MS }));
    const socket = await h.client({ protocol: 2 });
    const rejects = collect(socket, 'rejects');
    await waitFor(() => h.hub.clientCount() === 1, 'client registered');
    h.hub.sink.rejected([
      {
        reason: 'integrity_failed',
        source: 'tcp',
        peer: '127.0.0.1:5000',
        device: 'dev-x',
        detail: 'bad tag',
        raw: new Uint8Array([1]),
        truncated: false,
        receivedAt: 1_700_000_001_000,
      },
    ]);
    await waitFor(() => rejects.length > 0, 'leading-edge rejects');
    expect(rejects[0]?.rejects.map((r) => r.detail)).toEqual(['bad tag']);
  });
});
