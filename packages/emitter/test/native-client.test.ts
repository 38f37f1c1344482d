import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '@sealstream/protocol';
import { NativeClient, type NativeClientOptions } from '@sealstream/emitter';
import { FakeHub } from './fake-hub.js';

const secret = Buffer.alloc(32, 3);
let hub: FakeHub;
let client: NativeClient | undefined;

async function setup(options: Partial<NativeClientOptions> = {}): Promise<NativeClient> {
  hub = new FakeHub(secret);
  const port = await hub.listen();
  client = new NativeClient({
    host: '127.0.0.1',
    port,
    keyId: 'k',
    secret,
    reconnect: { initialMs: 20, maxMs: 50 },
    retryDelayMs: 20,
    ...options,
  });
  return client;
}

function reading(seq: number, device = 'dev'): Reading {
  return { device, seq, ts: 1_700_000_000_000 + seq, data: { v: seq } };
}

async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await hub?.close();
});

describe('NativeClient', () => {
  it('batches readings into few frames and flush resolves when all are acknowledged', async () => {
    const c = await setup({ maxReadingsPerFrame: 100 });
    for (let i = 0; i < 1000; i += 1) await c.send(reading(i));
    await c.flush();
    expect(c.stats()).toMatchObject({ acked: 1000, queued: 0, inFlight: 0 });
    expect(hub.frames.length).toBeLessThanOrEqual(20);
    expect(hub.stored.size).toBe(1000);
  });

  it('keeps sending under load when the in-flight bound is the limit', async () => {
    const c = await setup({ maxReadingsPerFrame: 10, maxInFlightFrames: 2 });
    for (let i = 0; i < 5000; i += 1) await c.send(reading(i));
    await c.flush();
    expect(hub.stored.size).toBe(5000);
    expect(c.stats()).toMatchObject({ acked: 5000, queued: 0, inFlight: 0 });
  });

  it('applies backpressure at the outbox bound instead of dropping', async () => {
    const c = await setup({ maxOutboxReadings: 50, maxReadingsPerFrame: 10 });
    hub.answer = () => ({ kind: 'silent' });
    let accepted = 0;
    const producer = (async () => {
      for (let i = 0; i < 80; i += 1) {
        await c.send(reading(i));
        accepted += 1;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(accepted).toBe(50);
    expect(c.stats().inFlight + c.stats().queued).toBe(50);
    hub.answer = () => ({ kind: 'ack' });
    // The silent frames are never answered; cutting the connection makes the client resend them.
    hub.answer = (_frame, index) => (index < 5 ? { kind: 'cut' } : { kind: 'ack' });
    for (const socket of (hub as unknown as { sockets: Set<{ destroy(): void }> }).sockets) socket.destroy();
    await producer;
    await c.flush();
    expect(hub.stored.size).toBe(80);
  });

  it('resends unacknowledged readings after reconnect, re-sealed with fresh IVs, none lost', async () => {
    const c = await setup({ maxReadingsPerFrame: 25 });
    // Cut the first connection after its third frame, without acknowledging anything on it.
    hub.answer = (frame) =>
      frame.connection === 1 ? (hub.frames.length >= 3 ? { kind: 'cut' } : { kind: 'silent' }) : { kind: 'ack' };
    for (let i = 0; i < 200; i += 1) await c.send(reading(i));
    await c.flush();
    expect(hub.stored.size).toBe(200);
    expect([...hub.stored.keys()].sort()).toEqual(Array.from({ length: 200 }, (_, i) => `dev/${i}`).sort());
    const ivs = hub.frames.map((f) => f.frame.iv.toString('hex'));
    expect(new Set(ivs).size).toBe(ivs.length);
    expect(c.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(c.stats().resent).toBeGreaterThan(0);
  });

  it('resends a frame refused with a retryable reason and drops one refused for good', async () => {
    const c = await setup({ maxReadingsPerFrame: 10, lingerMs: 1 });
    let refusedA = false;
    hub.answer = (frame) => {
      if (frame.readings.some((r) => r.device === 'b')) return { kind: 'error', reason: 'schema_invalid' };
      if (!refusedA) {
        refusedA = true;
        return { kind: 'error', reason: 'overloaded' };
      }
      return { kind: 'ack' };
    };
    for (let i = 0; i < 10; i += 1) await c.send(reading(i, 'a'));
    await c.flush();
    for (let i = 0; i < 10; i += 1) await c.send(reading(i, 'b'));
    await c.flush();
    await eventually(() => hub.stored.size === 10);
    expect([...hub.stored.keys()].every((k) => k.startsWith('a/'))).toBe(true);
    expect(hub.frames.filter((f) => f.readings[0]?.device === 'a')).toHaveLength(2);
    expect(c.stats().rejected).toBe(10);
  });

  it('reconnects after the hub restarts on the same port', async () => {
    const c = await setup();
    await c.send(reading(1));
    await c.flush();
    for (const socket of (hub as unknown as { sockets: Set<{ destroy(): void }> }).sockets) socket.destroy();
    await c.send(reading(2));
    await c.flush();
    expect(hub.stored.size).toBe(2);
    expect(hub.connections).toBe(2);
  });
});
