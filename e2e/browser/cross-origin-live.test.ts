/**
 * The seed's dashboard served from its own origin: a page from a second origin (a tiny static server on
 * another port, as the seed's React dev server would be) connects to the hub's Socket.IO with the plain
 * socket.io client, as that dashboard does, and receives the seed events `message:new` and
 * `stats:update` once the hub lists its origin in --cors-origins. A page from an origin not listed is
 * refused. Real Chromium, the BUILT hub as a child process, a legacy emitter feeding it.
 * Needs `npm run build`; skipped with the reason when Chromium or the build is missing.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LegacyEmitter } from '@sealstream/emitter';
import { chromiumInstalled, launchChromium, type LaunchedBrowser } from './support/chromium.js';
import { hubBuilt, HubServer } from './support/hub-server.js';

const ready = chromiumInstalled && hubBuilt;
if (!ready && process.env.CI === 'true') throw new Error('cross-origin browser test needs Chromium and npm run build');
if (!ready) console.warn('skipping the cross-origin live test: Chromium or the build is missing (run npm run build)');

const ENCRYPTION_KEY = 'cross-origin-test-encryption-key';
const AUTH_TOKEN = 'cross-origin-test-auth-token';
const SOCKET_IO_CLIENT = fileURLToPath(
  new URL('../../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url),
);

/** The page: the seed dashboard's live part, reduced to recording what arrives. */
function page(hubUrl: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>seed dashboard</title>
<script src="/socket.io.min.js"></script></head><body><script>
  window.__live = { connected: false, errors: [], messages: [], stats: [] };
  const socket = io(${JSON.stringify(hubUrl)}, { reconnection: false });
  socket.on('connect', () => { window.__live.connected = true; });
  socket.on('connect_error', (error) => { window.__live.errors.push(String(error && error.message)); });
  socket.on('message:new', (message) => { window.__live.messages.push(message); });
  socket.on('stats:update', (stats) => { window.__live.stats.push(stats); });
</script></body></html>`;
}

async function staticServer(html: () => string): Promise<{ server: Server; origin: string }> {
  const client = await readFile(SOCKET_IO_CLIENT);
  const server = createServer((request, response) => {
    if (request.url === '/socket.io.min.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(client);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end(html());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface LiveState {
  connected: boolean;
  errors: string[];
  messages: Array<{ name: string; origin: string; destination: string; receivedAt: string }>;
  stats: Array<{ totalReceived: number; totalValid: number; totalInvalid: number; successRate: number }>;
}

async function liveState(view: Page): Promise<LiveState> {
  return (await view.evaluate('window.__live')) as LiveState;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!ready)('seed dashboard from its own origin (Socket.IO CORS)', () => {
  let hub: HubServer;
  let browser: LaunchedBrowser;
  let emitter: LegacyEmitter | undefined;
  const servers: Server[] = [];
  let allowed: string;
  let foreign: string;

  beforeAll(async () => {
    let hubUrl = '';
    const first = await staticServer(() => page(hubUrl));
    const second = await staticServer(() => page(hubUrl));
    servers.push(first.server, second.server);
    allowed = first.origin;
    foreign = second.origin;
    hub = new HubServer({
      env: {
        SEALSTREAM_DEVICE_KEYS: `k1:${'22'.repeat(32)}`,
        SEALSTREAM_JWT_SECRET: 'cross-origin-jwt-secret-0123456789abcdef',
        ENCRYPTION_KEY,
        AUTH_TOKEN,
        // The seed's dashboard cannot authenticate: its live view is public, its origin allowed.
        SEALSTREAM_LIVE_PUBLIC: 'true',
        SEALSTREAM_CORS_ORIGINS: allowed,
      },
      // A fresh PGlite folder on a busy machine can take longer than the default.
      startTimeoutMs: 150_000,
    });
    await hub.start();
    hubUrl = `http://127.0.0.1:${hub.ports.http}`;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await emitter?.stop();
    await browser?.close();
    await hub?.stop();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a page from an allowed origin receives message:new and stats:update', async () => {
    const view = await browser.context.newPage();
    await view.goto(`${allowed}/`);
    await until(async () => (await liveState(view)).connected, 20_000);
    emitter = new LegacyEmitter({
      host: '127.0.0.1',
      port: hub.ports.legacy,
      encryptionKey: ENCRYPTION_KEY,
      authToken: AUTH_TOKEN,
      intervalMs: 300,
    });
    emitter.start();
    await until(async () => {
      const state = await liveState(view);
      return state.messages.length > 0 && state.stats.some((stats) => stats.totalValid > 0);
    }, 30_000);
    const state = await liveState(view);
    expect(Object.keys(state.messages[0] ?? {}).sort()).toEqual(['destination', 'name', 'origin', 'receivedAt']);
    expect(state.stats.at(-1)).toMatchObject({ totalValid: expect.any(Number), successRate: expect.any(Number) });
    expect(state.errors).toEqual([]);
    await view.close();
  }, 90_000);

  it('a page from an origin not listed is refused', async () => {
    const view = await browser.context.newPage();
    await view.goto(`${foreign}/`);
    await until(async () => (await liveState(view)).errors.length > 0, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const state = await liveState(view);
    expect(state.connected).toBe(false);
    expect(state.messages).toEqual([]);
    expect(state.stats).toEqual([]);
    await view.close();
  }, 60_000);
});
