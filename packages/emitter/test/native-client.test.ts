import { afterEach, describe, expect, it } from 'vitest';
import { CipherSuite, encodeClose, encodeError, type Reading } from '@sealstream/protocol';
import { NativeClient, type ClientEvent, type NativeClientOptions } from '@sealstream/emitter';
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

async function eventually(condition: () => boolean, timeoutMs = 5000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
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

  it('refuses locally a reading too large for any frame, and delivers the readings around it', async () => {
    const events: ClientEvent[] = [];
    const c = await setup({ maxReadingsPerFrame: 100, maxFrameBytes: 4096, onEvent: (event) => events.push(event) });
    for (let i = 0; i < 5; i += 1) await c.send(reading(i));
    await c.send({ device: 'dev', seq: 5, ts: 1_700_000_000_005, data: { blob: 'x'.repeat(8000) } });
    for (let i = 6; i < 11; i += 1) await c.send(reading(i));
    await c.flush();
    expect(c.stats()).toMatchObject({ acked: 10, rejected: 1, queued: 0, inFlight: 0, reconnects: 0 });
    expect(hub.stored.size).toBe(10);
    expect(hub.stored.has('dev/5')).toBe(false);
    expect(hub.frames.every((frame) => frame.readings.every((r) => r.seq !== 5))).toBe(true);
    expect(events.filter((event) => event.type === 'refused')).toEqual([
      expect.objectContaining({ reason: 'frame_too_large', readings: 1, retrying: false }),
    ]);
  });

  it('flush() resolves when the only reading waiting is refused locally, and batches over 16 MiB are split', async () => {
    const events: ClientEvent[] = [];
    const c = await setup({ maxReadingsPerFrame: 3, maxFrameBytes: 16 * 1_048_576, onEvent: (e) => events.push(e) });
    await eventually(() => c.stats().connected);
    await c.send({ device: 'dev', seq: 1, ts: 1_700_000_000_001, data: { blob: 'x'.repeat(17 * 1_048_576) } });
    await c.flush(); // once hung: the refusal settled everything before flush() was waiting
    expect(c.stats()).toMatchObject({ rejected: 1, queued: 0, inFlight: 0 });
    // Three 6 MB readings seal beyond the protocol's 16 MiB ceiling together: split, not thrown.
    for (let seq = 2; seq < 5; seq += 1) {
      await c.send({ device: 'dev', seq, ts: 1_700_000_000_000 + seq, data: { blob: 'y'.repeat(6_000_000) } });
    }
    await c.flush();
    expect(c.stats()).toMatchObject({ acked: 3, rejected: 1, queued: 0, inFlight: 0 });
    expect(events.filter((event) => event.type === 'refused')).toHaveLength(1);
  }, 30_000);

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
    // The silent frames are never answered; cutting the connection makes the client resend them.
    hub.answer = (_frame, index) => (index < 5 ? { kind: 'cut' } : { kind: 'ack' });
    hub.cutAll();
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
    // Everything the first connection carried came again on a later one, in different frames.
    const firstFrames = hub.frames.filter((f) => f.connection === 1);
    expect(firstFrames.length).toBeGreaterThanOrEqual(3);
    const laterSeqs = new Set(hub.frames.filter((f) => f.connection > 1).flatMap((f) => f.readings.map((r) => r.seq)));
    for (const frame of firstFrames) for (const r of frame.readings) expect(laterSeqs.has(r.seq)).toBe(true);
    const laterFrameIds = new Set(hub.frames.filter((f) => f.connection > 1).map((f) => f.frame.frameId));
    for (const frame of firstFrames) expect(laterFrameIds.has(frame.frame.frameId)).toBe(false);
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
    hub.cutAll();
    await c.send(reading(2));
    await c.flush();
    expect(hub.stored.size).toBe(2);
    expect(hub.connections).toBe(2);
  });
});

describe('NativeClient liveness and shutdown', () => {
  it('closes a connection whose hub stops answering heartbeats, reconnects and delivers', async () => {
    const c = await setup({ heartbeatMs: 40 });
    await c.send(reading(1));
    await c.flush();
    hub.answerPings = false;
    await eventually(() => hub.connections >= 2);
    expect(hub.pings).toBeGreaterThanOrEqual(1);
    hub.answerPings = true;
    await c.send(reading(2));
    await c.flush();
    expect(hub.stored.size).toBe(2);
    expect(c.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('stops sealing frames while the socket is backed up and resumes on drain', async () => {
    const c = await setup({ maxReadingsPerFrame: 100, maxInFlightFrames: 10_000, maxOutboxReadings: 1_000_000 });
    await eventually(() => c.stats().connected);
    hub.pauseReading();
    const payload = 'x'.repeat(1000);
    const total = 30_000;
    for (let i = 0; i < total; i += 1) await c.send({ device: 'big', seq: i, ts: 1, data: { payload } });
    // Once the kernel buffers are full the client must stop sealing: wait for the frame count to settle.
    let framesWhileBlocked = -1;
    await eventually(
      () => {
        const now = c.stats().sentFrames;
        const settled = now === framesWhileBlocked;
        framesWhileBlocked = now;
        return settled;
      },
      10_000,
      100,
    );
    // The socket refused more bytes, so the client kept the rest in its outbox instead of sealing it.
    expect(framesWhileBlocked).toBeLessThan(total / 100);
    expect(c.stats().queued).toBeGreaterThan(0);
    hub.resumeReading();
    await c.flush();
    expect(hub.stored.size).toBe(total);
  });

  it('treats a stream-level ERROR (frame 0) as informational and resends after the hub closes', async () => {
    const events: ClientEvent[] = [];
    const c = await setup({ onEvent: (event) => events.push(event) });
    hub.answer = (frame) => (frame.connection === 1 ? { kind: 'silent' } : { kind: 'ack' });
    for (let i = 0; i < 5; i += 1) await c.send(reading(i));
    await eventually(() => hub.frames.length >= 1);
    hub.broadcast(encodeError(0, 'shutting_down', 'bye'));
    await eventually(() => events.some((e) => e.type === 'refused'));
    expect(c.stats()).toMatchObject({ rejected: 0, inFlight: 5 });
    hub.cutAll();
    await c.flush();
    expect(hub.stored.size).toBe(5);
  });

  it('reconnects after the hub sends CLOSE', async () => {
    const events: ClientEvent[] = [];
    const c = await setup({ onEvent: (event) => events.push(event) });
    await c.send(reading(1));
    await c.flush();
    hub.broadcast(encodeClose(0));
    await eventually(() => events.some((e) => e.type === 'closed-by-hub') && hub.connections >= 2);
    await c.send(reading(2));
    await c.flush();
    expect(hub.stored.size).toBe(2);
  });

  it('close() waits for the last acknowledgement, then refuses new readings', async () => {
    const c = await setup();
    for (let i = 0; i < 3; i += 1) await c.send(reading(i));
    await c.close();
    expect(hub.stored.size).toBe(3);
    await expect(c.send(reading(9))).rejects.toThrow('closing');
  });

  it('destroy() fails producers blocked on a full outbox instead of leaving them waiting', async () => {
    const blocked = await setup({ maxOutboxReadings: 2 });
    hub.answer = () => ({ kind: 'silent' });
    await blocked.send(reading(1));
    await blocked.send(reading(2));
    const third = blocked.send(reading(3));
    blocked.destroy();
    await expect(third).rejects.toThrow('closing');
  });

  it('uses the CTR+HMAC suite when asked', async () => {
    const c = await setup({ suite: CipherSuite.Aes256CtrHmacSha256 });
    await c.send(reading(1));
    await c.flush();
    expect(hub.frames[0]?.frame.suite).toBe(CipherSuite.Aes256CtrHmacSha256);
    expect(hub.stored.size).toBe(1);
  });
});
