/**
 * The device registry end to end on both stores: keys issued through the registry seal frames the
 * pipeline accepts; rotation keeps the old key for its overlap window and refuses it after; revoking a
 * key or a device refuses its frames on the next one; a second hub sees the change on refresh; secrets
 * are stored only sealed, and a wrong or missing master key refuses to load them.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registryStoreFor } from '../../src/store/index.js';
import { RegistryError } from '../../src/registry/device-registry.js';
import { MasterKeyMissingError, RegistryKeyring } from '../../src/registry/registry-keyring.js';
import { SealedSecretError, SecretSealer } from '../../src/registry/secret-sealer.js';
import { describeEachStore, freshDevice } from '../store/store-fixtures.js';
import { openRegistryFixture, type RegistryFixture } from '../support/registry-fixture.js';
import { readingsOf, send } from './registry-frames.js';

const HOUR = 3_600_000;

await describeEachStore('device registry', (ctx) => {
  let fx: RegistryFixture;
  let clock = Date.now();
  beforeAll(async () => {
    fx = await openRegistryFixture(ctx.store, { now: () => clock, overlapMs: HOUR });
  });
  afterAll(async () => {
    await fx?.pipeline.close();
  });

  it('issues a key whose frames are accepted, and stores its secret only sealed', async () => {
    const device = freshDevice('reg');
    const { device: record, key } = await fx.devices.register({ id: device, name: 'boiler room' });
    expect(record).toMatchObject({ id: device, name: 'boiler room', status: 'active', revokedAt: null });
    expect(key.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(key.deviceToken.startsWith(`sst_${key.keyId}_`)).toBe(true);
    const answer = await send(fx.pipeline, key.keyId, key.secret, readingsOf(device, 1, 5, clock), clock);
    expect(answer).toEqual({ kind: 'ack', accepted: 5, duplicates: 0, rejected: 0 });

    const rows = await fx.registryStore.listDeviceKeys(device);
    expect(rows).toHaveLength(1);
    const sealed = Buffer.from(rows[0]?.sealedSecret ?? []);
    expect(sealed.includes(Buffer.from(key.secret, 'hex'))).toBe(false);
    expect(sealed.toString('hex')).not.toContain(key.secret);
  });

  it('refuses a second registration of the same id, and a key for another device', async () => {
    const device = freshDevice('reg-dup');
    const { key } = await fx.devices.register({ id: device, name: null });
    await expect(fx.devices.register({ id: device, name: null })).rejects.toMatchObject({ code: 'conflict' });
    const answer = await send(fx.pipeline, key.keyId, key.secret, readingsOf(`${device}-other`, 1, 2, clock), clock);
    expect(answer).toMatchObject({ kind: 'ack', accepted: 0, duplicates: 0, rejected: 2 });
  });

  it('rotation keeps the old key for the overlap window, then refuses it as revoked_key', async () => {
    const device = freshDevice('reg-rot');
    const { key: first } = await fx.devices.register({ id: device, name: null });
    const { key: second, previous } = await fx.devices.rotate(device);
    expect(previous).toEqual([
      expect.objectContaining({ keyId: first.keyId, status: 'expiring', expiresAt: clock + HOUR }),
    ]);
    expect(await send(fx.pipeline, second.keyId, second.secret, readingsOf(device, 1, 3, clock), clock)).toMatchObject({
      kind: 'ack',
      accepted: 3,
    });
    expect(await send(fx.pipeline, first.keyId, first.secret, readingsOf(device, 10, 3, clock), clock)).toMatchObject({
      kind: 'ack',
      accepted: 3,
    });
    const later = clock + HOUR + 1_000;
    const saved = clock;
    clock = later;
    try {
      expect(await send(fx.pipeline, first.keyId, first.secret, readingsOf(device, 20, 1, later), later)).toMatchObject(
        {
          kind: 'error',
          reason: 'revoked_key',
        },
      );
      expect(
        await send(fx.pipeline, second.keyId, second.secret, readingsOf(device, 20, 1, later), later),
      ).toMatchObject({
        kind: 'ack',
        accepted: 1,
      });
      const described = await fx.devices.describe(device);
      expect(described.keys.map((k) => k.status).sort()).toEqual(['active', 'expired']);
    } finally {
      clock = saved;
    }
  });

  it('revoking a key refuses its very next frame; revoking the device refuses all its keys', async () => {
    const device = freshDevice('reg-rev');
    const { key: first } = await fx.devices.register({ id: device, name: null });
    const { key: second } = await fx.devices.rotate(device, 0);
    const revoked = await fx.devices.revokeKey(device, second.keyId);
    expect(revoked.status).toBe('revoked');
    expect(await send(fx.pipeline, second.keyId, second.secret, readingsOf(device, 1, 1, clock), clock)).toMatchObject({
      kind: 'error',
      reason: 'revoked_key',
    });
    await fx.devices.revokeDevice(device);
    expect(await send(fx.pipeline, first.keyId, first.secret, readingsOf(device, 2, 1, clock), clock)).toMatchObject({
      kind: 'error',
      reason: 'revoked_key',
    });
    await expect(fx.devices.rotate(device)).rejects.toMatchObject({ code: 'conflict' });
    await expect(fx.devices.revokeKey(device, 'k-0000000000000000')).rejects.toBeInstanceOf(RegistryError);
    await expect(fx.devices.describe('never-registered')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a revoked device is refused even under a shared gateway key that may speak for any device', async () => {
    const gatewaySecret = randomBytes(32);
    const withGateway = await openRegistryFixture(ctx.store, {
      masterKey: fx.masterKey,
      configKeys: [{ keyId: 'gateway', secret: gatewaySecret, devices: 'any' }],
    });
    try {
      const device = freshDevice('reg-gw');
      await withGateway.devices.register({ id: device, name: null });
      const hex = gatewaySecret.toString('hex');
      expect(await send(withGateway.pipeline, 'gateway', hex, readingsOf(device, 1, 2))).toMatchObject({ accepted: 2 });
      await withGateway.devices.revokeDevice(device);
      expect(await send(withGateway.pipeline, 'gateway', hex, readingsOf(device, 3, 2))).toMatchObject({
        kind: 'ack',
        accepted: 0,
        duplicates: 0,
        rejected: 2,
      });
    } finally {
      await withGateway.pipeline.close();
    }
  });

  it('another hub on the same database sees registrations and revocations after a refresh', async () => {
    const other = new RegistryKeyring({ store: registryStoreFor(ctx.store), sealer: new SecretSealer(fx.masterKey) });
    await other.reload();
    const device = freshDevice('reg-peer');
    const { key } = await fx.devices.register({ id: device, name: null });
    expect(other.resolve(key.keyId)).toBeUndefined();
    expect(await other.refreshIfChanged()).toBe(true);
    expect(other.resolve(key.keyId)?.revoked).toBe(false);
    expect(await other.refreshIfChanged()).toBe(false);
    await fx.devices.revokeKey(device, key.keyId);
    await other.refreshIfChanged();
    expect(other.resolve(key.keyId)?.revoked).toBe(true);
  });

  it('refuses to load stored keys with a wrong master key or none', async () => {
    await fx.devices.register({ id: freshDevice('reg-mk'), name: null });
    const store = registryStoreFor(ctx.store);
    const wrong = new RegistryKeyring({ store, sealer: new SecretSealer(randomBytes(32)) });
    const error = await wrong.reload({ strict: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SealedSecretError);
    expect(String(error)).not.toMatch(/[0-9a-f]{64}/);
    await expect(new RegistryKeyring({ store, sealer: null }).reload({ strict: true })).rejects.toBeInstanceOf(
      MasterKeyMissingError,
    );
  });

  it('a key another master key sealed is left out and reported, and revocations still apply', async () => {
    const device = freshDevice('reg-foreign');
    const { key } = await fx.devices.register({ id: device, name: null });
    const store = registryStoreFor(ctx.store);
    const reported: string[][] = [];
    const mine = new RegistryKeyring({
      store,
      sealer: new SecretSealer(fx.masterKey),
      onUnopenable: (keyIds) => reported.push([...keyIds]),
    });
    await mine.reload({ strict: true });
    // Another hub, configured with a different master key, registers a device on the same database.
    const foreignSealer = new SecretSealer(randomBytes(32));
    await store.insertDeviceWithKey(
      { id: freshDevice('reg-foreign-other'), name: null },
      { keyId: 'k-foreign', sealedSecret: foreignSealer.seal('k-foreign', randomBytes(32)), createdAt: clock },
    );
    await store.revokeDeviceKey(device, key.keyId, clock);
    expect(await mine.refreshIfChanged()).toBe(true);
    expect(reported.at(-1)).toEqual(['k-foreign']);
    expect(mine.resolve('k-foreign')).toBeUndefined();
    expect(mine.resolve(key.keyId)?.revoked).toBe(true);
  });

  it('loads run one at a time: a slow refresh cannot install an older snapshot over a revocation', async () => {
    const device = freshDevice('reg-race');
    const { key } = await fx.devices.register({ id: device, name: null });
    const store = registryStoreFor(ctx.store);
    let releaseSlowLoad = (): void => undefined;
    const gate = new Promise<void>((resolve) => (releaseSlowLoad = resolve));
    let first = true;
    const slowStore = Object.create(store) as typeof store;
    slowStore.listDeviceKeys = async (...args) => {
      const rows = await store.listDeviceKeys(...args);
      if (first) {
        first = false;
        await gate;
      }
      return rows;
    };
    const keyring = new RegistryKeyring({ store: slowStore, sealer: new SecretSealer(fx.masterKey) });
    const stale = keyring.reload();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.revokeDeviceKey(device, key.keyId, clock);
    const fresh = keyring.reload();
    // Let the fresh load finish first if it can (it can only when loads overlap), then the slow one.
    await Promise.race([fresh, new Promise((resolve) => setTimeout(resolve, 300))]);
    releaseSlowLoad();
    await Promise.all([stale, fresh]);
    expect(keyring.resolve(key.keyId)?.revoked).toBe(true);
  });
});
