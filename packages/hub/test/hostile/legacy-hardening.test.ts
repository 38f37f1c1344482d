/**
 * Legacy port hardening.
 *
 * An unauthenticated peer cannot hold a socket: a peer that never sends AUTH (silent, or sending only
 * empty lines) used to keep its socket open forever, and a few thousand of them exhaust the hub's file
 * descriptors. Nor can an authenticated one: a peer that goes silent after AUTH_OK is closed after
 * `--legacy-idle-timeout-ms` (the seed protocol has no heartbeat, so the default is long), while one
 * that keeps sending is not.
 *
 * The legacy AUTH token must never reach a dead letter, however the AUTH line is misspelled: a lowercase
 * or space-separated `auth`, a BOM or NUL before `AUTH:`, or an AUTH line over the line limit are
 * refused as legacy_unknown_line / legacy_line_too_long, and their bytes used to be kept verbatim.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_AUTH_TOKEN, startTestHub, type TestHub } from '../support/test-hub.js';
import { expectDeadLetters, waitUntil, watchRejected } from './hostile-harness.js';

const MAX_LINE = 4096;
const MAX_TOKENS = 100;

describe('legacy port hardening', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub('pglite', [
      '--max-line-bytes',
      String(MAX_LINE),
      '--max-tokens-per-line',
      String(MAX_TOKENS),
      '--partial-frame-timeout-ms',
      '500',
    ]);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('closes a peer that does not AUTH within the partial-line timeout, silent or sending empty lines', async () => {
    const open = async () => {
      const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
      socket.on('error', () => undefined);
      socket.resume();
      await new Promise((resolve) => socket.once('connect', resolve));
      return { socket, closed: new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now()))) };
    };
    const started = Date.now();
    const silent = await open();
    const chatty = await open();
    const keepAlive = setInterval(() => chatty.socket.write('\n'), 100);
    try {
      const closedAt = await Promise.race([
        Promise.all([silent.closed, chatty.closed]),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
      ]);
      expect(closedAt, 'both unauthenticated sockets closed').not.toBeNull();
      for (const at of closedAt ?? []) expect(at - started).toBeLessThan(3000);
    } finally {
      clearInterval(keepAlive);
      silent.socket.destroy();
      chatty.socket.destroy();
    }
  });

  it('is not kept in the dead letters of misspelled or over-long AUTH lines', async () => {
    const lines = [
      `auth:${LEGACY_AUTH_TOKEN}\n`,
      `AUTH ${LEGACY_AUTH_TOKEN}\n`,
      `\ufeffAUTH:${LEGACY_AUTH_TOKEN}\n`,
      `\u0000AUTH:${LEGACY_AUTH_TOKEN}\n`,
      `${LEGACY_AUTH_TOKEN}\n`,
      `AUTH:${LEGACY_AUTH_TOKEN}${'y'.repeat(MAX_LINE)}\n`,
    ];
    const since = Date.now() - 1000;
    for (const line of lines) {
      const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(line);
      await new Promise((resolve) => socket.once('close', resolve));
    }
    let letters: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
    await waitUntil(async () => {
      letters = (await hub.hub.store.recentDeadLetters(1000)).filter(
        (row) =>
          row.source === 'legacy' &&
          row.receivedAt >= since &&
          (row.reason === 'legacy_unknown_line' || row.reason === 'legacy_line_too_long'),
      );
      return letters.length >= lines.length;
    }, `${lines.length} legacy dead letters`);
    expect(new Set(letters.map((row) => row.reason))).toEqual(new Set(['legacy_unknown_line', 'legacy_line_too_long']));
    for (const row of letters) {
      expect(Buffer.from(row.raw).toString('latin1')).not.toContain(LEGACY_AUTH_TOKEN);
      expect(row.detail).not.toContain(LEGACY_AUTH_TOKEN);
    }
  });

  it('keeps nothing a peer sent before AUTH: DATA:AUTH:<token> is dead-lettered without its bytes', async () => {
    const lines = [
      `DATA:AUTH:${LEGACY_AUTH_TOKEN}\n`,
      `DATA:${LEGACY_AUTH_TOKEN}\n`,
      `DATA:x|AUTH:${LEGACY_AUTH_TOKEN}|y\n`,
      `DATA:unauthenticated-bytes-${LEGACY_AUTH_TOKEN.length}\n`,
    ];
    const since = Date.now() - 1000;
    for (const line of lines) {
      const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(line);
      await new Promise((resolve) => socket.once('close', resolve));
    }
    let letters: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
    await waitUntil(async () => {
      letters = (await hub.hub.store.recentDeadLetters(1000)).filter(
        (row) => row.reason === 'legacy_not_authenticated' && row.receivedAt >= since,
      );
      return letters.length >= lines.length;
    }, `${lines.length} legacy_not_authenticated dead letters`);
    for (const row of letters) {
      const raw = Buffer.from(row.raw).toString('latin1');
      expect(raw).not.toContain(LEGACY_AUTH_TOKEN);
      expect(raw).not.toContain('unauthenticated-bytes');
      expect(row.detail).not.toContain(LEGACY_AUTH_TOKEN);
    }
  });

  it('keeps no AUTH token an authenticated peer sends as data: the refused token is redacted', async () => {
    const since = Date.now() - 1000;
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
    await waitUntil(() => Promise.resolve(received.includes('AUTH_OK')), 'AUTH_OK');
    // The token alone, inside a longer malformed token, and a harmless malformed token beside them.
    socket.end(`DATA:${LEGACY_AUTH_TOKEN}|xx${LEGACY_AUTH_TOKEN}yy|not-a-token\n`);
    await new Promise((resolve) => socket.once('close', resolve));
    let letters: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
    await waitUntil(async () => {
      letters = (await hub.hub.store.recentDeadLetters(1000)).filter(
        (row) => row.reason === 'legacy_bad_token' && row.receivedAt >= since,
      );
      return letters.length >= 3;
    }, '3 legacy_bad_token dead letters');
    const raws = letters.map((row) => Buffer.from(row.raw).toString('latin1'));
    expect(raws.filter((raw) => raw.includes(LEGACY_AUTH_TOKEN))).toEqual([]);
    expect(raws.filter((raw) => raw.includes('redacted'))).toHaveLength(2);
    expect(raws).toContain('not-a-token');
  });

  it('refuses a DATA line of more tokens than the bound whole and unopened; one at the bound is opened', async () => {
    const tooMany = await watchRejected(hub, 'legacy', 'legacy_too_many_tokens');
    const badTokens = await watchRejected(hub, 'legacy', 'legacy_bad_token');
    const since = Date.now() - 1000;
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('connect', resolve));
    try {
      socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
      await waitUntil(() => Promise.resolve(received.includes('AUTH_OK')), 'AUTH_OK');
      // MAX_TOKENS + 1 empty tokens: refused as one line, none of its tokens counted.
      socket.write(`DATA:${'|'.repeat(MAX_TOKENS)}\n`);
      // Exactly MAX_TOKENS empty tokens: opened, each refused on its own.
      socket.write(`DATA:${'|'.repeat(MAX_TOKENS - 1)}\n`);
      await waitUntil(async () => (await badTokens.added()) >= MAX_TOKENS, `${MAX_TOKENS} legacy_bad_token`);
      expect(await tooMany.added()).toBe(1);
      expect(await badTokens.added()).toBe(MAX_TOKENS);
      const [letter] = await expectDeadLetters(hub, 'legacy_too_many_tokens', since);
      expect(letter?.detail).toContain(`more than ${MAX_TOKENS} tokens`);
      expect(socket.destroyed).toBe(false); // the connection goes on
    } finally {
      socket.destroy();
    }
  });
});

describe('legacy idle timeout after AUTH', () => {
  const IDLE_MS = 1000;
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub('pglite', ['--legacy-idle-timeout-ms', String(IDLE_MS)]);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  async function authenticated() {
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
    await waitUntil(() => Promise.resolve(received.includes('AUTH_OK')), 'AUTH_OK');
    return { socket, closed };
  }

  it('closes an authenticated peer that goes silent, counted and dead-lettered as idle_timeout', async () => {
    const since = Date.now() - 1000;
    const idle = await watchRejected(hub, 'legacy', 'idle_timeout');
    const silent = await authenticated();
    const authenticatedAt = Date.now();
    const closedAt = await Promise.race([
      silent.closed,
      new Promise<null>((resolve) => setTimeout(resolve, 5000, null)),
    ]);
    silent.socket.destroy();
    expect(closedAt, 'the silent socket was closed').not.toBeNull();
    expect((closedAt ?? 0) - authenticatedAt).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(await idle.added()).toBe(1);
    const [letter] = await expectDeadLetters(hub, 'idle_timeout', since);
    expect(letter).toMatchObject({ source: 'legacy', reason: 'idle_timeout' });
  });

  it('keeps an authenticated peer that sends more often than the timeout', async () => {
    const busy = await authenticated();
    const keepAlive = setInterval(() => busy.socket.write('\n'), IDLE_MS / 4);
    try {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 2.5));
      expect(busy.socket.destroyed).toBe(false);
    } finally {
      clearInterval(keepAlive);
      busy.socket.destroy();
    }
  });
});
