/**
 * The sealed pipeline end to end, in-process: real TCP sockets, real store (PGlite and the local
 * PostgreSQL server), real Socket.IO. What a device sends is what the database holds.
 */
import type { SqlReadingStore } from '../../src/store/index.js';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as ioClient } from 'socket.io-client';
import {
  CipherSuite,
  deriveDeviceKey,
  encodeLegacyDataLine,
  FrameType,
  legacyKey,
  REASONS,
  sealLegacyToken,
  sealReadings,
  type AckFrame,
  type ErrorFrame,
  type Frame,
  type LegacyMessageNew,
  type LiveReadingBatch,
  type Reading,
} from '@sealstream/protocol';
import { NativeClient } from '@sealstream/emitter';
import { FrameClient } from '../support/frame-client.js';
import { pgAvailability } from '../support/postgres.js';
import {
  DEVICE_KEY_ID,
  DEVICE_SECRET,
  LEGACY_AUTH_TOKEN,
  LEGACY_ENCRYPTION_KEY,
  startTestHub,
  TEST_KEY_ID,
  TEST_SECRET,
  type StoreKind,
  type TestHub,
} from '../support/test-hub.js';

const isAck =
  (frameId: number) =>
  (frame: Frame): frame is AckFrame =>
    frame.type === FrameType.Ack && frame.frameId === frameId;
const isError =
  (frameId: number) =>
  (frame: Frame): frame is ErrorFrame =>
    frame.type === FrameType.Error && frame.frameId === frameId;

const key = deriveDeviceKey(TEST_SECRET);

function batch(device: string, fromSeq: number, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: fromSeq + i,
    ts: now - count + i,
    data: { t: 20 + i, ok: true },
  }));
}

async function metricValue(hub: TestHub, name: string, labels: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/metrics`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

const postgres = await pgAvailability();
const stores: Array<{ kind: StoreKind; skip: string | null }> = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: postgres.available ? null : postgres.reason },
];

for (const { kind, skip } of stores) {
  describe.skipIf(skip !== null)(`hub pipeline on ${kind}${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
    let hub: TestHub;
    let tcpPort: number;
    let legacyPort: number;

    beforeAll(async () => {
      hub = await startTestHub(kind);
      tcpPort = hub.hub.ports.tcp ?? 0;
      legacyPort = hub.hub.ports.legacy ?? 0;
    });
    afterAll(async () => {
      await hub?.stop();
    });

    it('commits what a device sends, acknowledges after commit, and counts it', async () => {
      const client = new NativeClient({ host: '127.0.0.1', port: tcpPort, keyId: TEST_KEY_ID, secret: TEST_SECRET });
      const base = Date.now();
      for (let d = 0; d < 3; d += 1) {
        for (let i = 0; i < 700; i += 1)
          await client.send({ device: `bulk-${d}`, seq: i, ts: base - 1000 + i, data: { v: i } });
      }
      await client.flush();
      const stats = client.stats();
      await client.close();
      expect(stats.acked).toBe(2100);
      expect(stats.sentFrames).toBeLessThan(2100);
      const rows = await hub.hub.store.readings('bulk-1', base - 5000, base + 5000, 10_000);
      expect(rows).toHaveLength(700);
      expect(rows[10]).toMatchObject({ device: 'bulk-1', seq: 10, ts: base - 1000 + 10, data: { v: 10 } });
      expect(await metricValue(hub, 'sealstream_readings_accepted_total', 'source="tcp"')).toBeGreaterThanOrEqual(2100);
      const buckets = await hub.hub.store.minuteBuckets('bulk-2', base - 120_000, base + 120_000);
      expect(buckets.reduce((sum, b) => sum + b.valid, 0)).toBe(700);
    });

    it('treats a re-sealed resend as duplicates and a byte-identical replay as an attack', async () => {
      const client = await FrameClient.open(tcpPort);
      const readings = batch('resend', 1, 50);
      const original = sealReadings(readings, key, { suite: CipherSuite.Aes256Gcm, keyId: TEST_KEY_ID, frameId: 1 });
      client.write(original);
      expect(await client.waitFor(isAck(1))).toMatchObject({ accepted: 50, duplicates: 0, rejected: 0 });

      client.write(
        sealReadings(readings, key, { suite: CipherSuite.Aes256CtrHmacSha256, keyId: TEST_KEY_ID, frameId: 2 }),
      );
      expect(await client.waitFor(isAck(2))).toMatchObject({ accepted: 0, duplicates: 50, rejected: 0 });

      client.write(original);
      const replay = await client.waitFor(isError(1));
      expect(replay.code).toBe(REASONS.replayed_frame.code);
      client.close();
      expect(await hub.hub.store.readings('resend', 0, Date.now() + 1000, 1000)).toHaveLength(50);
    });

    it('resend after a killed connection leaves every reading exactly once', async () => {
      const readings = batch('killed', 100, 200);
      const first = await FrameClient.open(tcpPort);
      first.write(
        sealReadings(readings.slice(0, 120), key, { suite: CipherSuite.Aes256Gcm, keyId: TEST_KEY_ID, frameId: 7 }),
      );
      first.close(); // killed before (or while) the ACK arrives
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = await FrameClient.open(tcpPort);
      second.write(sealReadings(readings, key, { suite: CipherSuite.Aes256Gcm, keyId: TEST_KEY_ID, frameId: 1 }));
      const ack = await second.waitFor(isAck(1));
      expect(ack.accepted + ack.duplicates).toBe(200);
      second.close();
      const rows = await hub.hub.store.readings('killed', 0, Date.now() + 1000, 1000);
      expect(rows.map((r) => r.seq)).toEqual(readings.map((r) => r.seq));
    });

    it('refuses tampered, unknown-key and foreign-device frames with reasons while good frames flow', async () => {
      const client = await FrameClient.open(tcpPort);
      const tampered = sealReadings(batch('tamper', 1, 5), key, {
        suite: CipherSuite.Aes256Gcm,
        keyId: TEST_KEY_ID,
        frameId: 10,
      });
      tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 0x01;
      client.write(tampered);
      expect((await client.waitFor(isError(10))).code).toBe(REASONS.integrity_failed.code);

      client.write(
        sealReadings(batch('tamper', 1, 5), deriveDeviceKey(randomBytes(32)), {
          suite: 1,
          keyId: 'nobody',
          frameId: 11,
        }),
      );
      expect((await client.waitFor(isError(11))).code).toBe(REASONS.unknown_key.code);

      // d1-key may only speak for device d1.
      const deviceKey = deriveDeviceKey(DEVICE_SECRET);
      client.write(
        sealReadings([...batch('d1', 1, 2), ...batch('d2', 1, 1)], deviceKey, {
          suite: 2,
          keyId: DEVICE_KEY_ID,
          frameId: 12,
        }),
      );
      expect(await client.waitFor(isAck(12))).toMatchObject({ accepted: 2, rejected: 1 });

      client.write(sealReadings(batch('tamper', 1, 5), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 13 }));
      expect(await client.waitFor(isAck(13))).toMatchObject({ accepted: 5 });
      client.close();

      const letters = await hub.hub.store.recentDeadLetters(50);
      const reasons = letters.map((l) => l.reason);
      expect(reasons).toEqual(expect.arrayContaining(['integrity_failed', 'unknown_key', 'device_not_allowed']));
      const integrity = letters.find((l) => l.reason === 'integrity_failed');
      expect(Buffer.from(integrity?.raw ?? []).equals(tampered)).toBe(true);
      expect(
        await metricValue(hub, 'sealstream_readings_rejected_total', 'source="tcp",reason="integrity_failed"'),
      ).toBe(1);
    });

    it('refuses stale frames and bad readings inside good frames, reading by reading', async () => {
      const client = await FrameClient.open(tcpPort);
      client.write(
        sealReadings(batch('stale', 1, 3), key, {
          suite: 1,
          keyId: TEST_KEY_ID,
          frameId: 20,
          sentAt: Date.now() - 600_000,
        }),
      );
      expect((await client.waitFor(isError(20))).code).toBe(REASONS.stale_frame.code);

      const mixed = [
        ...batch('mixed', 1, 2),
        { device: 'mixed', seq: -1, ts: Date.now(), data: {} },
        { device: 'mixed', seq: 3, ts: Date.now() + 86_400_000, data: {} },
        { device: 'bad device id!', seq: 1, ts: Date.now(), data: {} },
      ] as Reading[];
      client.write(sealReadings(mixed, key, { suite: 2, keyId: TEST_KEY_ID, frameId: 21 }));
      expect(await client.waitFor(isAck(21))).toMatchObject({ accepted: 2, duplicates: 0, rejected: 3 });
      client.close();
      // The stale frame's dead letter is committed on its own, without a sender waiting: poll for it.
      const expected = ['stale_frame', 'schema_invalid', 'timestamp_out_of_range'];
      let reasons: string[] = [];
      await waitUntil(async () => {
        reasons = (await hub.hub.store.recentDeadLetters(50)).map((l) => l.reason);
        return expected.every((reason) => reasons.includes(reason));
      }).catch(() => undefined);
      expect(reasons).toEqual(expect.arrayContaining(expected));
    });

    it('closes a stream with a giant length prefix without disturbing other connections', async () => {
      const good = await FrameClient.open(tcpPort);
      const bad = await FrameClient.open(tcpPort);
      bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 1]));
      const error = await bad.waitFor((f): f is ErrorFrame => f.type === FrameType.Error);
      expect(error.code).toBe(REASONS.frame_too_large.code);
      await bad.waitClosed();
      good.write(sealReadings(batch('survivor', 1, 3), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 1 }));
      expect(await good.waitFor(isAck(1))).toMatchObject({ accepted: 3 });
      good.close();
    });

    it('speaks the seed legacy protocol byte for byte and refuses tampered and replayed tokens', async () => {
      const socket = connect({ host: '127.0.0.1', port: legacyPort });
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
      await waitUntil(() => Buffer.concat(received).length >= 8);
      expect(Buffer.concat(received).toString('latin1')).toBe('AUTH_OK\n');

      const legacy = legacyKey(LEGACY_ENCRYPTION_KEY);
      const tokens = Array.from({ length: 120 }, (_, i) =>
        sealLegacyToken({ name: `Name ${i}`, origin: 'Bengaluru', destination: 'Mumbai' }, legacy, {
          variant: i % 2 === 0 ? 'sorted' : 'insertion',
        }),
      );
      const tampered = flipHex(tokens[0] ?? '', 40);
      const replayed = tokens[1] ?? '';
      const before = (await hub.hub.store.totals()).valid;
      // Split the line across writes, as a 175 KB line would arrive.
      const line = encodeLegacyDataLine([...tokens, tampered, replayed]);
      socket.write(line.slice(0, 1000));
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.write(line.slice(1000));
      await waitUntil(async () => (await hub.hub.store.totals()).valid >= before + 120);
      expect((await hub.hub.store.totals()).valid).toBe(before + 120);
      const reasons = (await hub.hub.store.recentDeadLetters(20)).map((l) => l.reason);
      expect(reasons).toEqual(expect.arrayContaining(['legacy_replayed_token']));
      expect(reasons.some((r) => r === 'legacy_integrity_failed' || r === 'legacy_bad_json')).toBe(true);
      // Nothing is ever written after AUTH_OK: the seed protocol has no acknowledgements.
      expect(Buffer.concat(received).toString('latin1')).toBe('AUTH_OK\n');
      socket.destroy();
    });

    it('answers a wrong AUTH token with AUTH_FAIL and closes, without storing the token', async () => {
      const socket = connect({ host: '127.0.0.1', port: legacyPort });
      const received: Buffer[] = [];
      let closed = false;
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('close', () => (closed = true));
      socket.write('AUTH:not-the-token-xyz\n');
      await waitUntil(() => closed);
      expect(Buffer.concat(received).toString('latin1')).toBe('AUTH_FAIL\n');
      const letters = await hub.hub.store.recentDeadLetters(50);
      const failed = letters.find((l) => l.reason === 'legacy_auth_failed');
      expect(failed).toBeDefined();
      expect(Buffer.from(failed?.raw ?? []).toString('latin1')).not.toContain('not-the-token-xyz');
    });

    it('broadcasts committed readings live to v2 and seed dashboards', async () => {
      const url = `http://127.0.0.1:${hub.hub.ports.http}`;
      // Outside demo mode the live channel wants an API token of an enabled account (the dashboard sends
      // the one from login); a well-signed token of an account that does not exist is refused too.
      const accounts = hub.hub.store as unknown as SqlReadingStore;
      const created = await accounts.createUser({
        username: `live-viewer-${kind}`,
        role: 'viewer',
        passwordHash: 'scrypt$unused',
      });
      if (!created.ok) throw new Error('could not create the live viewer');
      const token = hub.hub.http.jwt.sign({ sub: created.user.id, role: 'viewer' });
      for (const refusedAuth of [{ protocol: 2 }, { protocol: 2, token: hub.hub.http.jwt.sign({ sub: '999999' }) }]) {
        const refusedClient = ioClient(url, { auth: refusedAuth, transports: ['websocket'], reconnection: false });
        const refusal = await new Promise<string>((resolve) =>
          refusedClient.on('connect_error', (e) => resolve(e.message)),
        );
        expect(refusal).toBe('unauthorized');
        refusedClient.close();
      }
      const modern = ioClient(url, { auth: { protocol: 2, token }, transports: ['websocket'] });
      const seed = ioClient(url, { auth: { token }, transports: ['websocket'] });
      const batches: LiveReadingBatch[] = [];
      const seedMessages: LegacyMessageNew[] = [];
      modern.on('readings', (b) => batches.push(b));
      seed.on('message:new', (m) => seedMessages.push(m));
      await waitUntil(() => modern.connected && seed.connected);

      const client = await FrameClient.open(tcpPort);
      client.write(sealReadings(batch('live-dev', 1, 4), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 1 }));
      await client.waitFor(isAck(1));
      client.close();
      const socket = connect({ host: '127.0.0.1', port: legacyPort });
      socket.write(`AUTH:${LEGACY_AUTH_TOKEN}\n`);
      socket.write(
        encodeLegacyDataLine([
          sealLegacyToken(
            { name: 'Jack Reacher', origin: 'Bengaluru', destination: 'Mumbai' },
            legacyKey(LEGACY_ENCRYPTION_KEY),
          ),
        ]),
      );

      await waitUntil(
        () => batches.some((b) => b.readings.some((r) => r.device === 'live-dev')) && seedMessages.length > 0,
      );
      expect(seedMessages.find((m) => m.name === 'Jack Reacher')).toMatchObject({
        origin: 'Bengaluru',
        destination: 'Mumbai',
      });
      expect(Object.keys(seedMessages[0] ?? {}).sort()).toEqual(['destination', 'name', 'origin', 'receivedAt']);
      modern.close();
      seed.close();
      socket.destroy();
    });

    it('reports health and the documented metric names', async () => {
      const health = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/healthz`);
      expect(health.status).toBe(200);
      const text = await (await fetch(`http://127.0.0.1:${hub.hub.ports.http}/metrics`)).text();
      for (const name of [
        'sealstream_readings_accepted_total',
        'sealstream_readings_rejected_total',
        'sealstream_readings_duplicate_total',
        'sealstream_batch_readings',
        'sealstream_commit_seconds',
      ]) {
        expect(text).toContain(name);
      }
    });
  });
}

function flipHex(token: string, index: number): string {
  const char = token[index] ?? '0';
  return token.slice(0, index) + (char === '0' ? '1' : '0') + token.slice(index + 1);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
