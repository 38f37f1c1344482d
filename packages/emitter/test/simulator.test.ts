import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@sealstream/protocol';
import { Simulator } from '@sealstream/emitter';
import { FakeHub } from './fake-hub.js';

const secret = Buffer.alloc(32, 7);
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

function byDevice(readings: Iterable<Reading>): Map<string, number[]> {
  const seqs = new Map<string, number[]>();
  for (const reading of readings) seqs.set(reading.device, [...(seqs.get(reading.device) ?? []), reading.seq]);
  for (const list of seqs.values()) list.sort((a, b) => a - b);
  return seqs;
}

describe('Simulator', () => {
  it('paces a fleet, numbers every device from seqStart without gaps and gets everything acknowledged', async () => {
    hub = new FakeHub(secret);
    const port = await hub.listen();
    const simulator = new Simulator({
      host: '127.0.0.1',
      port,
      devices: 5,
      devicePrefix: 'sim',
      rate: 2000,
      durationSec: 0.5,
      keyId: 'fleet',
      secret,
      connections: 2,
      seqStart: 1000,
    });
    const summary = await simulator.run();
    expect(summary.sent).toBeGreaterThan(0);
    // The schedule is an upper bound: never more than rate × elapsed time.
    expect(summary.sent).toBeLessThanOrEqual(Math.ceil(2000 * summary.seconds));
    expect(summary).toMatchObject({ acked: summary.sent, duplicates: 0, rejected: 0 });
    expect(hub.stored.size).toBe(summary.sent);
    expect(hub.connections).toBe(2);
    const seqs = byDevice(hub.stored.values());
    expect([...seqs.keys()].sort()).toEqual(['sim-1', 'sim-2', 'sim-3', 'sim-4', 'sim-5']);
    for (const list of seqs.values()) expect(list).toEqual(Array.from({ length: list.length }, (_, i) => 1000 + i));
    const sample = hub.stored.values().next().value as Reading;
    expect(Object.keys(sample.data).sort()).toEqual(['humidity', 'temperature', 'voltage']);
  });

  it('sends exactly duration × rate readings, the last one too, and reports nothing skipped', async () => {
    hub = new FakeHub(secret);
    const port = await hub.listen();
    // The last reading is due at the very end of the run: it used to race the duration timer and was
    // lost about every other run, reported as skipped ("49 accepted" for the documented 10/s × 5 s).
    for (const [rate, durationSec, expected] of [
      [20, 0.5, 10],
      [20, 0.5, 10],
      [2000, 0.5, 1000],
    ] as const) {
      const events: string[] = [];
      const summary = await new Simulator({
        host: '127.0.0.1',
        port,
        devices: 2,
        rate,
        durationSec,
        keyId: 'fleet',
        secret,
        onEvent: (event) => events.push(event.type),
      }).run();
      expect(summary).toMatchObject({ sent: expected, acked: expected, skipped: 0 });
      // The orderly end of the run (its connection closing with nothing to resend) is no event to report.
      expect(events.filter((type) => type !== 'connected')).toEqual([]);
    }
  });

  it('seals each device with its own key when given per-device keys', async () => {
    const keys = new Map([
      ['a-1', { keyId: 'key-a1', secret: Buffer.alloc(32, 1) }],
      ['a-2', { keyId: 'key-a2', secret: Buffer.alloc(32, 2) }],
    ]);
    hub = new FakeHub(
      new Map([
        ['key-a1', Buffer.alloc(32, 1)],
        ['key-a2', Buffer.alloc(32, 2)],
        ['shared', secret],
      ]),
    );
    const port = await hub.listen();
    const simulator = new Simulator({
      host: '127.0.0.1',
      port,
      devices: 3,
      devicePrefix: 'a',
      rate: 600,
      keys,
      keyId: 'shared',
      secret,
    });
    void simulator.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const summary = await simulator.stop();
    expect(summary.acked).toBe(summary.sent);
    const keyIdsByDevice = new Map<string, Set<string>>();
    for (const { frame, readings } of hub.frames) {
      for (const r of readings)
        keyIdsByDevice.set(r.device, (keyIdsByDevice.get(r.device) ?? new Set()).add(frame.keyId));
    }
    expect(keyIdsByDevice.get('a-1')).toEqual(new Set(['key-a1']));
    expect(keyIdsByDevice.get('a-2')).toEqual(new Set(['key-a2']));
    expect(keyIdsByDevice.get('a-3')).toEqual(new Set(['shared']));
    expect(hub.connections).toBe(3);
  });

  it('refuses to start devices that have no key', () => {
    expect(() => new Simulator({ host: '127.0.0.1', port: 1, devices: 1, rate: 1 })).toThrow('keyId and secret');
  });

  it('stop() returns even while a silent hub keeps the outbox full', async () => {
    hub = new FakeHub(secret);
    hub.answer = () => ({ kind: 'silent' });
    const port = await hub.listen();
    const simulator = new Simulator({
      host: '127.0.0.1',
      port,
      devices: 2,
      rate: 5000,
      keyId: 'k',
      secret,
      maxOutboxReadings: 100,
      closeTimeoutMs: 100,
    });
    void simulator.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const summary = await simulator.stop();
    expect(summary.sent).toBe(100);
    expect(summary.acked).toBe(0);
    expect(summary.skipped).toBeGreaterThan(0);
  });
});
