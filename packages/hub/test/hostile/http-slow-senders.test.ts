/**
 * Slow HTTP senders (slowloris) cannot hold the hub's sockets. Fastify turns Node's request timeout off
 * by default, so a client sending headers or a body a few bytes at a time used to keep its socket and
 * parser for ever. With `--http-request-timeout-ms` a request not received whole in time is answered 408
 * and closed; each is counted by kind, and an ingest body cut short is refused as `request_timeout`
 * (counted per reason, dead-lettered) like any other bad input. Good HTTP ingest goes on meanwhile.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpFramesClient } from '@sealstream/emitter';
import { TEST_KEY_ID, TEST_SECRET, startTestHub, type TestHub } from '../support/test-hub.js';
import { expectDeadLetters, metrics, sleep, watchRejected } from './hostile-harness.js';

const TIMEOUT_MS = 1000;
/** The deadline plus Node's sweep interval (a quarter of it) plus scheduling slack on a loaded machine. */
const CLOSED_WITHIN_MS = TIMEOUT_MS * 3;

interface SlowPeer {
  readonly socket: Socket;
  /** Everything the hub wrote back, and when the socket closed (ms after it was opened). */
  readonly closed: Promise<{ answer: string; afterMs: number }>;
  stop(): void;
}

/** Sends `head` at once, then one byte of `trickle` every `everyMs` until closed or out of bytes. */
async function slowPeer(port: number, head: string, trickle: string, everyMs = 150): Promise<SlowPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const opened = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<{ answer: string; afterMs: number }>((resolve) =>
    socket.once('close', () =>
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), afterMs: Date.now() - opened }),
    ),
  );
  socket.write(head);
  let next = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || next >= trickle.length) return;
    socket.write(trickle[next] ?? '');
    next += 1;
  }, everyMs);
  void closed.then(() => clearInterval(timer));
  return {
    socket,
    closed,
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

function clientErrors(values: Map<string, number>, kind: string): number {
  return values.get(`sealstream_http_client_errors_total{kind="${kind}"}`) ?? 0;
}

describe('slow HTTP senders', () => {
  let hub: TestHub;
  let port: number;

  beforeAll(async () => {
    hub = await startTestHub('pglite', ['--http-request-timeout-ms', String(TIMEOUT_MS)]);
    port = hub.hub.ports.http;
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('answers 408 and closes a request whose headers trickle in, and counts it', async () => {
    const before = clientErrors(await metrics(hub), 'request_timeout');
    const peer = await slowPeer(port, 'GET /healthz HTTP/1.1\r\nHost: hub\r\n', 'X-Slow: ' + 'a'.repeat(200));
    try {
      const { answer, afterMs } = await peer.closed;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('"code":"request_timeout"');
      expect(afterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(afterMs).toBeLessThan(CLOSED_WITHIN_MS);
    } finally {
      peer.stop();
    }
    expect(clientErrors(await metrics(hub), 'request_timeout')).toBe(before + 1);
  });

  it('refuses an ingest body that trickles in as request_timeout: 408, counted, dead-lettered; good ingest goes on', async () => {
    const since = Date.now() - 1000;
    const refused = await watchRejected(hub, 'http', 'request_timeout');
    const good = new HttpFramesClient({ baseUrl: `http://127.0.0.1:${port}`, keyId: TEST_KEY_ID, secret: TEST_SECRET });
    const head =
      'POST /api/v1/ingest/frames HTTP/1.1\r\nHost: hub\r\nContent-Type: application/octet-stream\r\n' +
      'Content-Length: 4096\r\n\r\n';
    const peers = await Promise.all(Array.from({ length: 20 }, () => slowPeer(port, head, 'x'.repeat(4096))));
    try {
      // While twenty bodies trickle, a well-behaved device's requests are answered after commit.
      let seq = 0;
      const goodStarted = Date.now();
      while (Date.now() - goodStarted < TIMEOUT_MS + 500) {
        const answer = await good.send([
          Array.from({ length: 10 }, () => ({ device: 'http-good', seq: seq++, ts: Date.now(), data: { v: seq } })),
        ]);
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ accepted: 10, rejected: 0 });
        await sleep(50);
      }
      const closed = await Promise.all(peers.map((peer) => peer.closed));
      for (const { answer, afterMs } of closed) {
        expect(answer).toMatch(/^HTTP\/1\.1 408 /);
        expect(afterMs).toBeLessThan(CLOSED_WITHIN_MS);
      }
      expect(await refused.added()).toBe(peers.length);
      const letters = await expectDeadLetters(hub, 'request_timeout', since, peers.length);
      expect(letters[0]).toMatchObject({ source: 'http', reason: 'request_timeout', device: null });
      const stored = await hub.hub.store.readings('http-good', 0, Date.now() + 60_000, seq + 10);
      expect(stored).toHaveLength(seq);
    } finally {
      for (const peer of peers) peer.stop();
    }
  });

  it('does not cut short a request that arrives whole in time, however long the answer takes to read', async () => {
    const before = clientErrors(await metrics(hub), 'request_timeout');
    // Slow but within the deadline: the body's 8 bytes take ~0.5 s.
    const head =
      'POST /api/v1/ingest/frames HTTP/1.1\r\nHost: hub\r\nContent-Type: application/octet-stream\r\n' +
      'Content-Length: 8\r\nConnection: close\r\n\r\n';
    const peer = await slowPeer(port, head, 'garbage!', 60);
    try {
      const { answer } = await peer.closed;
      // Refused for what it is (not a frame), not for its pace.
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"reason":"frame_too_large"');
    } finally {
      peer.stop();
    }
    expect(clientErrors(await metrics(hub), 'request_timeout')).toBe(before);
  });
});
