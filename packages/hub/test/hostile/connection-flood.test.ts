/**
 * A flood of connections cannot take the hub's file descriptors, nor lock devices out of a port:
 * - each listener (native TCP, legacy TCP, HTTP) holds at most `--max-connections`; beyond it a new
 *   connection is closed at once and counted (`sealstream_connections_dropped_total{source}`);
 * - one client address holds at most `--max-connections-per-address` of them; beyond it a new one is
 *   closed at once and counted (`sealstream_connections_refused_per_address_total{source}`), while
 *   another address still connects;
 * - near the bound, idle unauthenticated connections are closed first (counted in
 *   `sealstream_connections_reaped_total{source}`), so an authenticated device stays and a genuine
 *   device arriving during the flood still gets in.
 * Monitoring on `--monitor-port` keeps answering while the HTTP port is full.
 * Client addresses are told apart by binding sockets to other loopback addresses (127.0.0.0/8: Linux).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeClient } from '@sealstream/emitter';
import { LEGACY_AUTH_TOKEN, TEST_KEY_ID, TEST_SECRET, startTestHub, type TestHub } from '../support/test-hub.js';
import { GoodTraffic, metrics, sleep, waitUntil } from './hostile-harness.js';

const MAX_CONNECTIONS = 20;
const PER_ADDRESS = 8;

interface Peer {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function openPeer(port: number, from = '127.0.0.1'): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
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

/** A legacy connection that authenticated (AUTH_OK read). */
async function openAuthenticatedLegacy(port: number, from: string): Promise<Peer> {
  const peer = await openPeer(port, from);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    peer.socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (seen.includes('AUTH_OK\n')) resolve();
    });
    peer.socket.once('close', () => reject(new Error('closed before AUTH_OK')));
    peer.socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
  });
  return peer;
}

/**
 * An HTTP connection with a request in progress: headers sent, body not yet. `Expect: 100-continue`
 * makes the hub answer once it has read the headers, so the request is known to be in progress.
 */
async function openBusyHttp(port: number, from: string): Promise<Peer> {
  const peer = await openPeer(port, from);
  await new Promise<void>((resolve, reject) => {
    peer.socket.once('data', () => resolve());
    peer.socket.once('close', () => reject(new Error('closed before the request was read')));
    peer.socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\nExpect: 100-continue\r\n\r\n',
    );
  });
  return peer;
}

async function counter(hub: TestHub, name: string, source: string): Promise<number> {
  return (await metrics(hub)).get(`sealstream_${name}{source="${source}"}`) ?? 0;
}

function allOpen(peers: readonly Peer[]): boolean {
  return peers.every((peer) => !peer.isClosed());
}

describe('connection floods', () => {
  let hub: TestHub;
  const peers: Peer[] = [];
  const closeAll = (): void => {
    for (const peer of peers.splice(0)) peer.socket.destroy();
  };

  beforeAll(async () => {
    hub = await startTestHub('pglite', [
      ...['--max-connections', String(MAX_CONNECTIONS)],
      ...['--max-connections-per-address', String(PER_ADDRESS)],
      ...['--monitor-port', '0'],
    ]);
  });
  afterAll(async () => {
    closeAll();
    await hub?.stop();
  });

  for (const source of ['tcp', 'legacy', 'http'] as const) {
    it(`caps one address at its share of the ${source} listener, counts the refusals, and lets another address in`, async () => {
      const port =
        source === 'http' ? hub.hub.ports.http : ((source === 'tcp' ? hub.hub.ports.tcp : hub.hub.ports.legacy) ?? 0);
      const before = await counter(hub, 'connections_refused_per_address_total', source);
      const held: Peer[] = [];
      for (let i = 0; i < PER_ADDRESS; i += 1) held.push(await openPeer(port, '127.0.0.2'));
      peers.push(...held);
      const beyond = await Promise.all([openPeer(port, '127.0.0.2'), openPeer(port, '127.0.0.2')]);
      peers.push(...beyond);
      await Promise.race([Promise.all(beyond.map((peer) => peer.closed)), sleep(3000)]);
      expect(
        beyond.every((peer) => peer.isClosed()),
        'connections beyond the share are closed',
      ).toBe(true);
      expect((await counter(hub, 'connections_refused_per_address_total', source)) - before).toBe(2);
      // Another address still gets in, and the first keeps what it holds.
      const other = await openPeer(port, '127.0.0.3');
      peers.push(other);
      await sleep(300);
      expect(other.isClosed()).toBe(false);
      expect(allOpen(held)).toBe(true);
      closeAll();
      await sleep(200);
    });
  }

  it('reaps idle unauthenticated native connections near the bound: a connected device stays, a new one gets in', async () => {
    const port = hub.hub.ports.tcp ?? 0;
    const reapedBefore = await counter(hub, 'connections_reaped_total', 'tcp');
    const good = new GoodTraffic(hub, 'flood-good', 300);
    const late = new NativeClient({ host: '127.0.0.1', port, keyId: TEST_KEY_ID, secret: TEST_SECRET });
    try {
      await waitUntil(() => good.client.stats().acked > 0, 'the good device connected');
      // Idle connections from several addresses, far more than the listener holds.
      for (let round = 0; round < 3; round += 1) {
        for (const from of ['127.0.0.10', '127.0.0.11', '127.0.0.12', '127.0.0.13']) {
          for (let i = 0; i < PER_ADDRESS - 2; i += 1) peers.push(await openPeer(port, from));
        }
      }
      expect((await counter(hub, 'connections_reaped_total', 'tcp')) - reapedBefore).toBeGreaterThan(0);
      // A genuine device arriving now still gets in and is served.
      for (let seq = 0; seq < 20; seq += 1)
        await late.send({ device: 'flood-late', seq, ts: Date.now(), data: { v: seq } });
      await late.flush();
      expect(late.stats().acked).toBe(20);
      // The device connected before the flood never lost its connection, and every reading was stored.
      expect(good.client.stats().reconnects).toBe(0);
      await good.finish();
    } finally {
      good.destroy();
      late.destroy();
      closeAll();
    }
    await sleep(200);
  });

  it('keeps authenticated legacy connections at the bound and drops what comes beyond it', async () => {
    const port = hub.hub.ports.legacy ?? 0;
    const droppedBefore = await counter(hub, 'connections_dropped_total', 'legacy');
    const reapedBefore = await counter(hub, 'connections_reaped_total', 'legacy');
    const held: Peer[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i += 1)
      held.push(await openAuthenticatedLegacy(port, `127.0.1.${1 + (i % 4)}`));
    peers.push(...held);
    const extra = await openPeer(port, '127.0.1.9');
    peers.push(extra);
    await Promise.race([extra.closed, sleep(3000)]);
    expect(extra.isClosed()).toBe(true);
    expect(allOpen(held), 'no authenticated connection was reaped').toBe(true);
    expect((await counter(hub, 'connections_dropped_total', 'legacy')) - droppedBefore).toBe(1);
    expect(await counter(hub, 'connections_reaped_total', 'legacy')).toBe(reapedBefore);
    closeAll();
    await sleep(200);
  });

  it('reaps idle HTTP keep-alive connections first, so a new client is answered', async () => {
    const port = hub.hub.ports.http;
    const reapedBefore = await counter(hub, 'connections_reaped_total', 'http');
    const busy: Peer[] = [];
    for (let i = 0; i < 4; i += 1) busy.push(await openBusyHttp(port, '127.0.2.1'));
    peers.push(...busy);
    for (const from of ['127.0.2.2', '127.0.2.3', '127.0.2.4']) {
      for (let i = 0; i < PER_ADDRESS; i += 1) peers.push(await openPeer(port, from));
    }
    expect((await counter(hub, 'connections_reaped_total', 'http')) - reapedBefore).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(allOpen(busy), 'requests in progress are never reaped').toBe(true);
    closeAll();
    await sleep(200);
  });

  it('keeps /healthz and /metrics answering on the monitor port while requests in progress fill the HTTP port', async () => {
    const monitor = `http://127.0.0.1:${hub.hub.ports.monitor ?? 0}`;
    const held: Peer[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i += 1)
      held.push(await openBusyHttp(hub.hub.ports.http, `127.0.3.${1 + (i % 4)}`));
    peers.push(...held);
    // The HTTP port is full of requests in progress: a new connection there is closed at once...
    const extra = await openPeer(hub.hub.ports.http, '127.0.3.9');
    peers.push(extra);
    await Promise.race([extra.closed, sleep(3000)]);
    expect(extra.isClosed()).toBe(true);
    // ...while monitoring answers on its own port, and sees the flood.
    const health = await fetch(`${monitor}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', store: 'pglite', role: 'all', deps: { postgres: 'up' } });
    const text = await (await fetch(`${monitor}/metrics`)).text();
    const drops = /sealstream_connections_dropped_total\{source="http"\} (\d+)/.exec(text);
    expect(Number(drops?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    closeAll();
  });
});
