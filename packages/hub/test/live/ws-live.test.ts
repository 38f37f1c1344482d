/**
 * The plain-WebSocket live server (/live/ws) with real `ws` clients over loopback: admission (credential,
 * origin, connection bound), the first message, subscriptions, per-tick readings, heartbeats that end
 * dead peers, slow clients skipped with their drops counted, and ending an account's connections.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createWsLive, originCheck, type WsLive, type WsLiveOptions } from '../../src/live/index.js';
import { createMetrics, type HubMetrics } from '../../src/observability/metrics.js';
import type { VerifiedReading } from '../../src/pipeline/ports.js';

interface Harness {
  readonly server: HttpServer;
  readonly live: WsLive;
  readonly metrics: HubMetrics;
  readonly url: string;
  close(): Promise<void>;
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((item) => item.close()));
});

async function start(options: Partial<Omit<WsLiveOptions, 'server'>> = {}): Promise<Harness> {
  const server: HttpServer = createServer((_request, response) => response.writeHead(404).end());
  const metrics = createMetrics();
  const live = createWsLive({
    server,
    tickMs: 20,
    metrics: metrics.wsLive,
    authorize: (token) =>
      token === 'good-token' ? { expiresAt: null, account: 'acc-1' } : token === 'other' ? { expiresAt: null } : false,
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live/ws`;
  const harness = {
    server,
    live,
    metrics,
    url,
    async close() {
      await live.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.push(harness);
  return harness;
}

interface Client {
  readonly ws: WebSocket;
  readonly messages: Array<Record<string, unknown>>;
  next(predicate: (message: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (data) => {
      messages.push(JSON.parse(String(data)) as Record<string, unknown>);
      for (const waiter of waiters.splice(0)) waiter();
    });
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      ws.on('close', (code, reason) => done({ code, reason: String(reason) })),
    );
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () => {
      const client: Client = {
        ws,
        messages,
        closed,
        next(predicate, timeoutMs = 5000) {
          return new Promise((found, fail) => {
            const timer = setTimeout(() => fail(new Error('no such message in time')), timeoutMs);
            const look = (): void => {
              const index = messages.findIndex(predicate);
              if (index >= 0) {
                clearTimeout(timer);
                found(messages.splice(index, 1)[0] as Record<string, unknown>);
              } else waiters.push(look);
            };
            look();
          });
        },
      };
      open.push({
        close: async () => {
          ws.terminate();
        },
      });
      resolve(client);
    });
  });
}

function reading(device: string, seq: number, data: Record<string, unknown> = { t: seq }): VerifiedReading {
  return { device, seq, ts: Date.now(), data, source: 'tcp', receivedAt: Date.now() };
}

async function metric(metrics: HubMetrics, name: string, labels = ''): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((row) => row.startsWith(`${name}${labels} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describe('plain WebSocket live: admission', () => {
  it('refuses a missing or wrong credential with 401 before any WebSocket exists', async () => {
    const h = await start();
    await expect(connect(h.url)).rejects.toThrow('HTTP 401');
    await expect(connect(`${h.url}?token=bad-token`)).rejects.toThrow('HTTP 401');
    await expect(connect(h.url, { headers: { authorization: 'Bearer nope' } })).rejects.toThrow('HTTP 401');
    expect(await metric(h.metrics, 'sealstream_live_ws_refused_total', '{cause="auth"}')).toBe(3);
    expect(h.live.clientCount()).toBe(0);
  });

  it('admits the credential in a Bearer header or ?token=, and sends the welcome first', async () => {
    const h = await start();
    const byHeader = await connect(h.url, { headers: { authorization: 'Bearer good-token' } });
    const byQuery = await connect(`${h.url}?token=good-token`);
    for (const client of [byHeader, byQuery]) {
      const first = await client.next(() => true);
      expect(first).toMatchObject({ type: 'welcome', protocol: 1, subscription: '*' });
    }
    expect(h.live.clientCount()).toBe(2);
    expect(await metric(h.metrics, 'sealstream_live_ws_clients')).toBe(2);
  });

  it('refuses foreign origins when an allow-list is set; its own origin, listed ones and no Origin pass', async () => {
    const h = await start({ authorize: undefined, allowOrigin: originCheck(['http://dash.example:3000']) });
    await expect(connect(h.url, { origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    await connect(h.url, { origin: 'http://dash.example:3000' });
    await connect(h.url, { origin: new URL(h.url.replace('ws:', 'http:')).origin });
    await connect(h.url);
    expect(await metric(h.metrics, 'sealstream_live_ws_refused_total', '{cause="origin"}')).toBe(1);
  });

  it('bounds connections: beyond maxConnections the upgrade is answered 503', async () => {
    const h = await start({ authorize: undefined, maxConnections: 2 });
    await connect(h.url);
    await connect(h.url);
    await expect(connect(h.url)).rejects.toThrow('HTTP 503');
    expect(await metric(h.metrics, 'sealstream_live_ws_refused_total', '{cause="capacity"}')).toBe(1);
  });

  it('ignores upgrades on other paths (left to their owners)', async () => {
    const h = await start({ authorize: undefined });
    // What Socket.IO does with upgrades that are not its own (engine.io's destroyUpgrade), sooner.
    h.server.on('upgrade', (_request, socket) => setTimeout(() => socket.writable && socket.end(), 100));
    const other = new WebSocket(h.url.replace('/live/ws', '/elsewhere'));
    const outcome = await new Promise<string>((resolve) => {
      other.once('open', () => resolve('open'));
      other.once('error', () => resolve('error'));
      setTimeout(() => resolve('pending'), 300);
    });
    other.terminate();
    expect(outcome).not.toBe('open');
    expect(h.live.clientCount()).toBe(0);
  });
});

describe('plain WebSocket live: readings', () => {
  it('sends every device by default (latest per tick) and only the subscribed devices after subscribe', async () => {
    const h = await start({ authorize: undefined });
    const all = await connect(h.url);
    const some = await connect(h.url);
    await all.next((m) => m['type'] === 'welcome');
    await some.next((m) => m['type'] === 'welcome');
    some.ws.send(JSON.stringify({ type: 'subscribe', devices: ['dev-a'] }));
    expect(await some.next((m) => m['type'] === 'subscribed')).toEqual({
      type: 'subscribed',
      devices: ['dev-a'],
      refused: 0,
    });

    h.live.sink.committed([reading('dev-a', 1), reading('dev-a', 2), reading('dev-b', 1)], Date.now());
    const toSome = await some.next((m) => m['type'] === 'readings');
    expect((toSome['readings'] as Array<{ device: string; seq: number }>).map((r) => [r.device, r.seq])).toEqual([
      ['dev-a', 1],
      ['dev-a', 2],
    ]);
    const toAll = await all.next((m) => m['type'] === 'readings');
    const latest = (toAll['readings'] as Array<{ device: string; seq: number }>).map((r) => [r.device, r.seq]);
    expect(latest).toEqual([
      ['dev-a', 2],
      ['dev-b', 1],
    ]);
    expect(toAll).toMatchObject({ dropped: 0 });

    // Back to every device; an unsubscribed device's readings stop.
    some.ws.send(JSON.stringify({ type: 'unsubscribe', devices: ['dev-a'] }));
    await some.next((m) => m['type'] === 'subscribed' && Array.isArray(m['devices']) && m['devices'].length === 0);
    h.live.sink.committed([reading('dev-a', 3)], Date.now());
    await all.next((m) => m['type'] === 'readings');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(some.messages.filter((m) => m['type'] === 'readings')).toHaveLength(0);
    some.ws.send(JSON.stringify({ type: 'subscribe', devices: '*' }));
    await some.next((m) => m['type'] === 'subscribed' && m['devices'] === '*');
    h.live.sink.committed([reading('dev-c', 1)], Date.now());
    expect(await some.next((m) => m['type'] === 'readings')).toMatchObject({ readings: [{ device: 'dev-c' }] });
  });

  it('answers malformed requests with an error message and counts them', async () => {
    const h = await start({ authorize: undefined });
    const client = await connect(h.url);
    for (const bad of ['not json', '[]', '{"type":"dance"}', '{"type":"subscribe","devices":[1]}']) {
      client.ws.send(bad);
      expect(await client.next((m) => m['type'] === 'error')).toMatchObject({ reason: 'invalid_request' });
    }
    expect(await metric(h.metrics, 'sealstream_live_invalid_requests_total')).toBe(4);
  });

  it('skips a client that does not read, counts what it missed, and tells it when it catches up', async () => {
    const h = await start({ authorize: undefined, maxBufferedBytes: 64 * 1024 });
    const reader = await connect(h.url);
    const stalled = await connect(h.url);
    await stalled.next((m) => m['type'] === 'welcome');
    // The stalled peer stops reading its socket: the hub's send buffer for it fills.
    (stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const blob = 'x'.repeat(8 * 1024);
    let seq = 0;
    for (let round = 0; round < 60; round += 1) {
      const batch: VerifiedReading[] = [];
      for (let device = 0; device < 100; device += 1) batch.push(reading(`d${device}`, (seq += 1), { blob }));
      h.live.sink.committed(batch, Date.now());
      await new Promise((resolve) => setTimeout(resolve, 25));
      if ((await metric(h.metrics, 'sealstream_live_dropped_total', '{kind="ws"}')) > 0) break;
    }
    const dropped = await metric(h.metrics, 'sealstream_live_dropped_total', '{kind="ws"}');
    expect(dropped).toBeGreaterThan(0);
    // The reader kept up and was never skipped.
    expect(reader.messages.filter((m) => m['type'] === 'readings').every((m) => m['dropped'] === 0)).toBe(true);

    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    // It drains what the hub had buffered for it, then the next message says how much it missed.
    let late = 0;
    const ticker = setInterval(() => h.live.sink.committed([reading('late', (late += 1))], Date.now()), 50);
    try {
      const told = await stalled.next(
        (m) => m['type'] === 'readings' && typeof m['dropped'] === 'number' && m['dropped'] > 0,
        15_000,
      );
      expect(told['dropped']).toBeGreaterThan(0);
    } finally {
      clearInterval(ticker);
    }
  }, 30_000);
});

describe('plain WebSocket live: heartbeats and endings', () => {
  it('terminates a peer that does not answer pings', async () => {
    const h = await start({ authorize: undefined, heartbeatMs: 100 });
    const deaf = await connect(h.url, { autoPong: false });
    const polite = await connect(h.url);
    const closed = await deaf.closed;
    expect(closed.code).toBe(1006);
    expect(await metric(h.metrics, 'sealstream_live_ws_dead_peers_total')).toBeGreaterThanOrEqual(1);
    expect(h.live.clientCount()).toBe(1);
    expect(polite.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('endForAccount closes only that account’s connections (1008) and says how many', async () => {
    const h = await start();
    const a1 = await connect(`${h.url}?token=good-token`);
    const a2 = await connect(`${h.url}?token=good-token`);
    const other = await connect(`${h.url}?token=other`);
    expect(h.live.endForAccount('acc-1')).toBe(2);
    expect((await a1.closed).code).toBe(1008);
    expect((await a2.closed).code).toBe(1008);
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
    expect(h.live.clientCount()).toBe(1);
    expect(h.live.endForAccount('acc-1')).toBe(0);
  });

  it('closes a connection when its credential expires', async () => {
    const h = await start({ authorize: () => ({ expiresAt: Date.now() + 150, account: 'acc-2' }) });
    const client = await connect(`${h.url}?token=anything`);
    expect((await client.closed).code).toBe(1008);
  });
});
