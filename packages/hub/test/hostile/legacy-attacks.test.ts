/**
 * Hostile input on the seed-compatible legacy port (in-process hub on PGlite): wrong AUTH, DATA before
 * AUTH, unknown lines, bad/forged/replayed tokens, over-long lines, slow senders. Each is refused with
 * its reason, counted, kept as a bounded dead letter; valid tokens on the same lines are stored, and a
 * native device streaming meanwhile loses nothing.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeLegacyDataLine, legacyKey, sealLegacyToken, type ReasonCode } from '@sealstream/protocol';
import { LEGACY_AUTH_TOKEN, LEGACY_ENCRYPTION_KEY, startTestHub, type TestHub } from '../support/test-hub.js';
import { GoodTraffic, sleep, waitUntil, watchRejected } from './hostile-harness.js';

const RAW_LIMIT = 300;
const MAX_LINE = 8192;
const key = legacyKey(LEGACY_ENCRYPTION_KEY);

interface LegacyPeer {
  readonly socket: Socket;
  readonly peer: string;
  received(): string;
  closed(): boolean;
}

function message(i: number) {
  return { name: `Name ${i} ${randomBytes(3).toString('hex')}`, origin: 'Pune', destination: 'Delhi' };
}

/** A token whose secret_key does not match its message: decrypts fine, fails the integrity check. */
function forgedToken(): string {
  const iv = randomBytes(16);
  const plaintext = JSON.stringify({ ...message(0), secret_key: '00'.repeat(32) });
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return `${iv.toString('hex')}:${Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('hex')}`;
}

describe('legacy hostile input on pglite', () => {
  let hub: TestHub;
  let good: GoodTraffic | undefined;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    hub = await startTestHub('pglite', [
      '--dead-letter-raw-bytes',
      String(RAW_LIMIT),
      '--max-line-bytes',
      String(MAX_LINE),
      '--partial-frame-timeout-ms',
      '500',
    ]);
  });
  afterEach(() => {
    good?.destroy();
    good = undefined;
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  async function open(): Promise<LegacyPeer> {
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    sockets.push(socket);
    let text = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    return { socket, peer: `127.0.0.1:${socket.localPort ?? 0}`, received: () => text, closed: () => closed };
  }

  async function authenticated(): Promise<LegacyPeer> {
    const peer = await open();
    peer.socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
    await waitUntil(() => peer.received() === 'AUTH_OK\n', 'AUTH_OK');
    return peer;
  }

  async function lettersOf(peer: LegacyPeer, reason: ReasonCode, count: number) {
    let rows: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
    await waitUntil(async () => {
      rows = (await hub.hub.store.recentDeadLetters(2000)).filter((r) => r.peer === peer.peer && r.reason === reason);
      return rows.length >= count;
    }, `${count} ${reason} dead letter(s)`);
    expect(rows).toHaveLength(count);
    for (const row of rows) expect(row.raw.byteLength).toBeLessThanOrEqual(RAW_LIMIT);
    return rows;
  }

  async function duringGoodTraffic(attack: () => Promise<void>): Promise<void> {
    good = new GoodTraffic(hub, `good-${randomBytes(4).toString('hex')}`, 1000, { maxReadingsPerFrame: 100 });
    await sleep(50);
    await attack();
    await good.finish();
    good = undefined;
  }

  /** Legacy messages all belong to the configured legacy device ('legacy' by default). */
  const legacyRows = async (): Promise<number> =>
    (await hub.hub.store.readings('legacy', 0, Date.now() + 60_000, 100_000)).length;

  it('a wrong AUTH token gets AUTH_FAIL and a closed socket; the token itself is never stored', async () => {
    await duringGoodTraffic(async () => {
      const counter = await watchRejected(hub, 'legacy', 'legacy_auth_failed');
      const peer = await open();
      peer.socket.write('AUTH:guess-the-token-123\n');
      await waitUntil(() => peer.closed(), 'closed');
      expect(peer.received()).toBe('AUTH_FAIL\n');
      expect(await counter.added()).toBe(1);
      const [letter] = await lettersOf(peer, 'legacy_auth_failed', 1);
      expect(Buffer.from(letter?.raw ?? []).toString('latin1')).not.toContain('guess-the-token');
    });
  });

  it('DATA before AUTH is legacy_not_authenticated and closes; unknown lines are refused alone', async () => {
    await duringGoodTraffic(async () => {
      const notAuth = await watchRejected(hub, 'legacy', 'legacy_not_authenticated');
      const unknown = await watchRejected(hub, 'legacy', 'legacy_unknown_line');
      const early = await open();
      early.socket.write(encodeLegacyDataLine([sealLegacyToken(message(1), key)]));
      await waitUntil(() => early.closed(), 'closed');
      expect(early.received()).toBe('');
      await lettersOf(early, 'legacy_not_authenticated', 1);

      const before = await legacyRows();
      const peer = await authenticated();
      peer.socket.write('HELLO there\nPING\n\u0000\u0001\u0002\n');
      peer.socket.write(encodeLegacyDataLine([sealLegacyToken(message(2), key)]));
      await waitUntil(async () => (await legacyRows()) >= before + 1, 'the valid line stored');
      expect(await notAuth.added()).toBe(1);
      expect(await unknown.added()).toBe(3);
      await lettersOf(peer, 'legacy_unknown_line', 3);
      expect(peer.closed()).toBe(false);
    });
  });

  it('bad, undecryptable, forged and replayed tokens are refused one by one beside valid ones', async () => {
    await duringGoodTraffic(async () => {
      const reasons: ReasonCode[] = [
        'legacy_bad_token',
        'legacy_bad_json',
        'legacy_integrity_failed',
        'legacy_replayed_token',
      ];
      const counters = await Promise.all(reasons.map((reason) => watchRejected(hub, 'legacy', reason)));
      const peer = await authenticated();
      const valid = Array.from({ length: 20 }, (_, i) =>
        sealLegacyToken(message(i), key, { variant: i % 2 === 0 ? 'sorted' : 'insertion' }),
      );
      const bad = ['not-a-token', 'abcd:1234', `${'00'.repeat(15)}:ffff`, `${'zz'.repeat(16)}:00`];
      const undecryptable = [`${randomBytes(16).toString('hex')}:${randomBytes(60).toString('hex')}`];
      const forged = [forgedToken(), forgedToken()];
      const replayed = [valid[3] ?? '', valid[4] ?? '', valid[4] ?? ''];
      const before = await legacyRows();
      peer.socket.write(encodeLegacyDataLine([...valid.slice(0, 10), ...bad, ...undecryptable, ...forged]));
      peer.socket.write(encodeLegacyDataLine([...valid.slice(10), ...replayed]));
      await waitUntil(async () => (await legacyRows()) >= before + valid.length, 'valid tokens stored');
      const added = await Promise.all(counters.map((counter) => counter.added()));
      expect(added).toEqual([bad.length, undecryptable.length, forged.length, replayed.length]);
      await lettersOf(peer, 'legacy_bad_token', bad.length);
      await lettersOf(peer, 'legacy_replayed_token', replayed.length);
      await sleep(200);
      expect(await legacyRows()).toBe(before + valid.length);
      expect(peer.received()).toBe('AUTH_OK\n'); // the seed protocol never answers DATA
    });
  });

  it('keeps a refused token byte for byte, whatever its bytes; CRLF lines open like LF lines', async () => {
    await duringGoodTraffic(async () => {
      const counter = await watchRejected(hub, 'legacy', 'legacy_bad_token');
      const peer = await authenticated();
      const valid = [sealLegacyToken(message(400), key), sealLegacyToken(message(401), key)];
      // Not UTF-8, not hex: refused, and its dead letter holds exactly these bytes (no replacement characters).
      const odd = Buffer.concat([
        Buffer.from(`${'0'.repeat(32)}:ab`, 'latin1'),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('cd'),
      ]);
      const before = await legacyRows();
      peer.socket.write(
        Buffer.concat([
          Buffer.from(`DATA:${valid[0] ?? ''}|`, 'latin1'),
          odd,
          Buffer.from(`|${valid[1] ?? ''}\r\n`, 'latin1'),
        ]),
      );
      await waitUntil(async () => (await legacyRows()) >= before + 2, 'valid tokens stored');
      expect(await counter.added()).toBe(1);
      const [letter] = await lettersOf(peer, 'legacy_bad_token', 1);
      expect(Buffer.from(letter?.raw ?? []).equals(odd)).toBe(true);
      await sleep(200);
      expect(await legacyRows()).toBe(before + 2);
    });
  });

  it('an over-long line is skipped up to its newline as legacy_line_too_long; the next line still counts', async () => {
    await duringGoodTraffic(async () => {
      const counter = await watchRejected(hub, 'legacy', 'legacy_line_too_long');
      const peer = await authenticated();
      const before = await legacyRows();
      const huge = encodeLegacyDataLine(
        Array.from({ length: 60 }, (_, i) => sealLegacyToken(message(100 + i), key)), // ~15 KB, over the cap
      );
      expect(huge.length).toBeGreaterThan(MAX_LINE);
      // Written in pieces, as a real over-long line arrives.
      for (let at = 0; at < huge.length; at += 1000) peer.socket.write(huge.slice(at, at + 1000));
      peer.socket.write(`DATA:${'x'.repeat(MAX_LINE * 3)}\n`);
      peer.socket.write(encodeLegacyDataLine([sealLegacyToken(message(200), key), sealLegacyToken(message(201), key)]));
      await waitUntil(async () => (await legacyRows()) >= before + 2, 'the following line stored');
      expect(await counter.added()).toBe(2);
      const letters = await lettersOf(peer, 'legacy_line_too_long', 2);
      for (const letter of letters) expect(letter.raw.byteLength).toBeLessThanOrEqual(RAW_LIMIT);
      await sleep(200);
      expect(await legacyRows()).toBe(before + 2);
      expect(peer.closed()).toBe(false);
    });
  });

  it('a slow sender trickling a line is dropped with idle_timeout', async () => {
    await duringGoodTraffic(async () => {
      const counter = await watchRejected(hub, 'legacy', 'idle_timeout');
      const peer = await authenticated();
      const line = encodeLegacyDataLine([sealLegacyToken(message(300), key)]);
      const started = Date.now();
      for (let at = 0; at < line.length - 1 && !peer.closed() && Date.now() - started < 6000; at += 1) {
        peer.socket.write(line.slice(at, at + 1));
        await sleep(100);
      }
      expect(peer.closed()).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await counter.added()).toBe(1);
      await lettersOf(peer, 'idle_timeout', 1);
    });
  });
});
