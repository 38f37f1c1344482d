/**
 * A flood of connections cannot take the hub's file descriptors: each TCP listener holds at most
 * `--max-connections`; beyond it a new connection is closed at once and counted
 * (`sealstream_connections_dropped_total{source}`), while devices already connected go on, and a place
 * freed is taken again. Monitoring on `--monitor-port` keeps answering while the HTTP port is full.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/test-hub.js';
import { GoodTraffic, metrics, sleep, waitUntil } from './hostile-harness.js';

const MAX_CONNECTIONS = 6;

interface Peer {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function openPeer(port: number): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.resume();
  let closed = false;
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  return { socket, closed: closedPromise, isClosed: () => closed };
}

async function dropped(hub: TestHub, source: string): Promise<number> {
  return (await metrics(hub)).get(`sealstream_connections_dropped_total{source="${source}"}`) ?? 0;
}

describe('connection floods', () => {
  let hub: TestHub;
  const peers: Peer[] = [];

  beforeAll(async () => {
    hub = await startTestHub('pglite', ['--max-connections', String(MAX_CONNECTIONS), '--monitor-port', '0']);
  });
  afterAll(async () => {
    for (const peer of peers) peer.socket.destroy();
    await hub?.stop();
  });

  it('closes native connections beyond the bound at once, counts them, and keeps serving the rest', async () => {
    const port = hub.hub.ports.tcp ?? 0;
    const good = new GoodTraffic(hub, 'flood-good', 500);
    try {
      await waitUntil(async () => Promise.resolve(good.client.stats().acked > 0), 'the good device connected');
      // The good device holds one place; fill the rest with idle peers.
      for (let i = 1; i < MAX_CONNECTIONS; i += 1) peers.push(await openPeer(port));
      await sleep(100);
      expect(peers.every((peer) => !peer.isClosed())).toBe(true);

      const before = await dropped(hub, 'tcp');
      const flood = await Promise.all(Array.from({ length: 30 }, () => openPeer(port)));
      const closedInTime = await Promise.race([
        Promise.all(flood.map((peer) => peer.closed)).then(() => true),
        sleep(3000).then(() => false),
      ]);
      for (const peer of flood) peer.socket.destroy();
      expect(closedInTime, 'every connection beyond the bound was closed').toBe(true);
      expect((await dropped(hub, 'tcp')) - before).toBe(flood.length);
      expect(peers.every((peer) => !peer.isClosed())).toBe(true);
      await good.finish();
    } finally {
      good.destroy();
    }

    // Places freed are taken again.
    for (const peer of peers.splice(0)) peer.socket.destroy();
    await sleep(200);
    const again = await openPeer(port);
    peers.push(again);
    await sleep(300);
    expect(again.isClosed()).toBe(false);
  });

  it('bounds the legacy listener the same way', async () => {
    const port = hub.hub.ports.legacy ?? 0;
    const before = await dropped(hub, 'legacy');
    const held: Peer[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i += 1) held.push(await openPeer(port));
    peers.push(...held);
    const extra = await openPeer(port);
    await Promise.race([extra.closed, sleep(3000)]);
    expect(extra.isClosed()).toBe(true);
    expect(held.every((peer) => !peer.isClosed())).toBe(true);
    expect((await dropped(hub, 'legacy')) - before).toBe(1);
  });

  it('keeps /healthz and /metrics answering on the monitor port while a flood fills the HTTP port', async () => {
    const monitor = `http://127.0.0.1:${hub.hub.ports.monitor ?? 0}`;
    const held: Peer[] = [];
    for (let i = 0; i < MAX_CONNECTIONS + 4; i += 1) held.push(await openPeer(hub.hub.ports.http));
    peers.push(...held);
    // The HTTP port is full: a new connection there is closed at once...
    const extra = await openPeer(hub.hub.ports.http);
    await Promise.race([extra.closed, sleep(3000)]);
    expect(extra.isClosed()).toBe(true);
    // ...while monitoring answers on its own port, and sees the flood.
    const health = await fetch(`${monitor}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', store: 'pglite' });
    const text = await (await fetch(`${monitor}/metrics`)).text();
    const drops = /sealstream_connections_dropped_total\{source="http"\} (\d+)/.exec(text);
    expect(Number(drops?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    for (const peer of held) peer.socket.destroy();
  });
});
