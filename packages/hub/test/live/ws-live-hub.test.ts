/**
 * The live doors of a real hub (startHub on PGlite): the plain WebSocket at /live/ws takes the live
 * token and gets readings only after they are committed (sent in over HTTP ingest); Socket.IO honours
 * --cors-origins (CORS headers for the allowed origin, foreign origins refused at the handshake).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { io as connectIo } from 'socket.io-client';
import { deviceToken } from '@sealstream/protocol';
import { startTestHub, TEST_KEY_ID, TEST_SECRET, type TestHub } from '../support/test-hub.js';

const LIVE_TOKEN = 'ws-live-hub-test-token-0123456789';
const ALLOWED = 'http://dashboard.example:3000';

let test: TestHub;
let base: string;
beforeAll(async () => {
  test = await startTestHub('pglite', ['--live-token', LIVE_TOKEN, '--cors-origins', ALLOWED]);
  base = `127.0.0.1:${test.hub.ports.http}`;
}, 120_000);
afterAll(async () => {
  await test?.stop();
});

function wsOutcome(url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_request, response) => resolve(`HTTP ${response.statusCode}`));
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('error', (error) => resolve(error.message));
  });
}

describe('plain WebSocket live on a real hub', () => {
  it('refuses connections without the live credential and from foreign origins', async () => {
    expect(await wsOutcome(`ws://${base}/live/ws`)).toBe('HTTP 401');
    expect(await wsOutcome(`ws://${base}/live/ws?token=wrong-token-0123456789`)).toBe('HTTP 401');
    expect(await wsOutcome(`ws://${base}/live/ws?token=${LIVE_TOKEN}`, { origin: 'http://evil.example' })).toBe(
      'HTTP 403',
    );
    expect(await wsOutcome(`ws://${base}/live/ws?token=${LIVE_TOKEN}`, { origin: ALLOWED })).toBe('open');
  });

  it('pushes a reading once it is committed, to a client subscribed to its device', async () => {
    const ws = new WebSocket(`ws://${base}/live/ws`, { headers: { authorization: `Bearer ${LIVE_TOKEN}` } });
    const messages: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (data) => {
      messages.push(JSON.parse(String(data)) as Record<string, unknown>);
      for (const waiter of waiters.splice(0)) waiter();
    });
    const next = (predicate: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such message in time')), 10_000);
        const look = (): void => {
          const found = messages.find(predicate);
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(look);
        };
        look();
      });
    try {
      expect(await next(() => true)).toMatchObject({ type: 'welcome' });
      ws.send(JSON.stringify({ type: 'subscribe', devices: ['ws-hub-dev'] }));
      await next((m) => m['type'] === 'subscribed');

      const time = Math.floor(Date.now() / 1000);
      const posted = await fetch(`http://${base}/ingest`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${deviceToken(TEST_KEY_ID, TEST_SECRET)}`,
        },
        body: JSON.stringify([
          { device_id: 'other-dev', value: 1, time },
          { device_id: 'ws-hub-dev', value: 21.5, time },
        ]),
      });
      expect(posted.status).toBe(202);
      const pushed = await next((m) => m['type'] === 'readings');
      const readings = pushed['readings'] as Array<{ device: string; ts: number; data: unknown; committedAt: number }>;
      expect(readings).toHaveLength(1);
      expect(readings[0]).toMatchObject({ device: 'ws-hub-dev', ts: time * 1000, data: { value: 21.5 } });
      // Committed before it was pushed: the store already has it.
      const stored = await test.hub.store.readings('ws-hub-dev', 0, Date.now() + 60_000, 10);
      expect(stored.map((row) => row.data)).toEqual([{ value: 21.5 }]);
      expect(test.hub.wsLive.clientCount()).toBe(1);
    } finally {
      ws.terminate();
    }
  });
});

describe('Socket.IO honours --cors-origins', () => {
  it('answers the allowed origin with CORS headers on the polling transport', async () => {
    const response = await fetch(`http://${base}/socket.io/?EIO=4&transport=polling`, { headers: { origin: ALLOWED } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('refuses a foreign origin at the handshake, admits the allowed one', async () => {
    const attempt = (origin: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connectIo(`http://${base}`, {
          transports: ['websocket'],
          extraHeaders: { origin },
          auth: { token: LIVE_TOKEN, protocol: 2 },
          reconnection: false,
          timeout: 5000,
        });
        socket.once('connect', () => {
          socket.close();
          resolve('connected');
        });
        socket.once('connect_error', (error) => {
          socket.close();
          resolve(`refused: ${error.message}`);
        });
      });
    expect(await attempt('http://evil.example')).toMatch(/^refused/);
    expect(await attempt(ALLOWED)).toBe('connected');
    const polling = await fetch(`http://${base}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'http://evil.example' },
    });
    expect(polling.status).toBe(403);
  });
});
