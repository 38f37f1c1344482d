/**
 * Live sends on the leading edge: committed data is sent without waiting for the tick (here far longer
 * than any wait in the test, so without the leading edge nothing would arrive at all), and what is
 * committed while a send is pending is coalesced into that one send.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { noopLiveMetrics } from '../../src/live/live-metrics.js';
import { collect, reading, sleep, startHarness, waitFor, type Harness } from './live-harness.js';

const LONG_TICK_MS = 600_000;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('live leading edge', () => {
  it('sends committed data without waiting for the tick, coalescing what arrives together', async () => {
    const h = (harness = await startHarness({ tickMs: LONG_TICK_MS }));
    const socket = await h.client({ protocol: 2 });
    const readings = collect(socket, 'readings');
    await waitFor(() => h.hub.clientCount() === 1, 'client registered');

    // Two calls in one loop turn still coalesce into one send.
    h.hub.sink.committed([reading('dev-a', 1)], 10);
    h.hub.sink.committed([reading('dev-b', 2)], 11);
    await waitFor(() => readings.length > 0, 'leading-edge send');
    expect(readings).toHaveLength(1);
    expect(readings[0]?.readings.map((r) => r.device).sort()).toEqual(['dev-a', 'dev-b']);

    // Later commits go out in a second send, again one for the whole turn, long before the tick.
    h.hub.sink.committed([reading('dev-a', 3)], 12);
    h.hub.sink.committed([reading('dev-c', 4)], 13);
    h.hub.sink.committed([reading('dev-a', 5)], 14);
    await waitFor(() => readings.length > 1, 'second send');
    await sleep(100);
    expect(readings).toHaveLength(2);
    expect(readings[1]?.readings.map((r) => [r.device, r.seq]).sort()).toEqual([
      ['dev-a', 5],
      ['dev-c', 4],
    ]);
    expect(h.hub.pendingItems()).toBe(0);
  });

  it('reports how long each data send came after the oldest commit it carries', async () => {
    const delays: number[] = [];
    let now = 1_000_000;
    const h = (harness = await startHarness({
      tickMs: LONG_TICK_MS,
      now: () => now,
      metrics: { ...noopLiveMetrics, sendDelay: (seconds) => delays.push(seconds) },
    }));
    const socket = await h.client({ protocol: 2 });
    const readings = collect(socket, 'readings');
    await waitFor(() => h.hub.clientCount() === 1, 'client registered');
    now = 1_000_040;
    // Committed at 1 000 000 and 1 000 030, sent at 1 000 040: the send is 40 ms after the oldest.
    h.hub.sink.committed([reading('dev-a', 1)], 1_000_000);
    h.hub.sink.committed([reading('dev-b', 2)], 1_000_030);
    await waitFor(() => readings.length > 0, 'leading-edge send');
    expect(delays).toEqual([0.04]);
    now = 1_000_100;
    h.hub.sink.committed([reading('dev-a', 3)], 1_000_095);
    await waitFor(() => readings.length > 1, 'second send');
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
