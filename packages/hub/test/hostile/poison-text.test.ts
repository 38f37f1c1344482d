/**
 * Text PostgreSQL refuses (a NUL, an unpaired surrogate) inside correctly sealed input, on both drivers.
 * A legacy token whose name, origin or destination holds `\u0000` or `\ud800` once reached the store,
 * failed its whole batch, and the committer retried it for 30 s: every native ACK stalled, the good tokens
 * on the same line were lost, the poison was never dead-lettered. Now each is refused alone
 * (`unstorable_text`), counted and dead-lettered, its neighbours stored, and no commit fails at all.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CipherSuite,
  deriveDeviceKey,
  encodeLegacyDataLine,
  legacyKey,
  sealLegacyToken,
  sealReadings,
} from '@sealstream/protocol';
import { pgAvailability, pgRequired } from '../support/postgres.js';
import {
  LEGACY_AUTH_TOKEN,
  LEGACY_ENCRYPTION_KEY,
  TEST_KEY_ID,
  TEST_SECRET,
  startTestHub,
  type StoreKind,
  type TestHub,
} from '../support/test-hub.js';
import { GoodTraffic, metrics, sleep, waitUntil, watchRejected } from './hostile-harness.js';

const key = legacyKey(LEGACY_ENCRYPTION_KEY);
const availability = await pgAvailability();

const kinds: Array<{ kind: StoreKind; skip: string | null }> = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: availability.available || pgRequired() ? null : availability.reason },
];

async function commitFailures(hub: TestHub): Promise<number> {
  return (await metrics(hub)).get('sealstream_commit_failures_total') ?? 0;
}

describe.each(kinds)('poison text on $kind', ({ kind, skip }) => {
  if (skip !== null) {
    console.warn(`[hostile] poison text on ${kind} skipped: ${skip}`);
    it.skip(`skipped: ${skip}`, () => undefined);
    return;
  }
  let hub: TestHub;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    hub = await startTestHub(kind);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await hub?.stop();
  });

  async function authenticatedPeer(): Promise<{ socket: Socket; peer: string }> {
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.legacy ?? 0 });
    sockets.push(socket);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
    await waitUntil(() => text === 'AUTH_OK\n', 'AUTH_OK');
    return { socket, peer: `127.0.0.1:${socket.localPort ?? 0}` };
  }

  const legacyRows = async (): Promise<number> =>
    (await hub.hub.store.readings('legacy', 0, Date.now() + 60_000, 100_000)).length;

  it('legacy tokens holding NUL or a lone surrogate are refused alone; the line and native ACKs go on', async () => {
    const good = new GoodTraffic(hub, `good-${randomBytes(4).toString('hex')}`, 500, { maxReadingsPerFrame: 50 });
    try {
      await sleep(100);
      const failuresBefore = await commitFailures(hub);
      const counter = await watchRejected(hub, 'legacy', 'unstorable_text');
      const { socket, peer } = await authenticatedPeer();
      const tag = randomBytes(3).toString('hex');
      const valid = Array.from({ length: 10 }, (_, i) =>
        sealLegacyToken({ name: `Good ${i} ${tag}`, origin: 'Pune', destination: 'Delhi' }, key),
      );
      const poison = [
        sealLegacyToken({ name: `Nul\u0000${tag}`, origin: 'Pune', destination: 'Delhi' }, key),
        sealLegacyToken({ name: 'Lone', origin: `\ud800${tag}`, destination: 'Delhi' }, key),
        sealLegacyToken({ name: 'Low', origin: 'Pune', destination: `x\udc00\u0000${tag}` }, key),
      ];
      const before = await legacyRows();
      const started = Date.now();
      socket.write(
        encodeLegacyDataLine([...valid.slice(0, 4), poison[0] ?? '', ...valid.slice(4, 7), poison[1] ?? '']),
      );
      socket.write(encodeLegacyDataLine([poison[2] ?? '', ...valid.slice(7)]));
      await waitUntil(async () => (await legacyRows()) >= before + valid.length, 'the good tokens stored');
      expect(Date.now() - started).toBeLessThan(10_000);

      await waitUntil(async () => (await counter.added()) === poison.length, 'three unstorable_text refusals');
      let letters: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
      await waitUntil(async () => {
        letters = (await hub.hub.store.recentDeadLetters(500)).filter(
          (row) => row.peer === peer && row.reason === 'unstorable_text',
        );
        return letters.length === poison.length;
      }, 'three unstorable_text dead letters');
      // The dead letter keeps the token itself, so an operator sees exactly what was sent.
      expect(letters.map((row) => Buffer.from(row.raw).toString('latin1')).sort()).toEqual([...poison].sort());

      await good.finish(); // every native reading acknowledged (none answered store_unavailable) and stored once
      await sleep(200);
      expect(await legacyRows()).toBe(before + valid.length);
      // Refused before any batch: not one commit failed.
      expect(await commitFailures(hub)).toBe(failuresBefore);
    } finally {
      good.destroy();
    }
  });

  it('a native reading whose device id holds a NUL is refused and its dead letter is stored, cleaned', async () => {
    const failuresBefore = await commitFailures(hub);
    const counter = await watchRejected(hub, 'tcp', 'schema_invalid');
    const socket = connect({ host: '127.0.0.1', port: hub.hub.ports.tcp ?? 0 });
    sockets.push(socket);
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    const since = Date.now();
    const device = `nul\u0000${randomBytes(3).toString('hex')}`;
    socket.write(
      sealReadings([{ device, seq: 1, ts: Date.now(), data: { v: 1 } }], deriveDeviceKey(TEST_SECRET), {
        suite: CipherSuite.Aes256Gcm,
        keyId: TEST_KEY_ID,
        frameId: 1,
      }),
    );
    await waitUntil(async () => (await counter.added()) === 1, 'schema_invalid counted');
    await waitUntil(async () => {
      const rows = await hub.hub.store.recentDeadLetters(200);
      return rows.some(
        (row) =>
          row.reason === 'schema_invalid' &&
          row.receivedAt >= since - 5 &&
          row.device === device.replace('\u0000', '\uFFFD'),
      );
    }, 'the dead letter stored with its device id cleaned');
    expect(await commitFailures(hub)).toBe(failuresBefore);
  });
});
