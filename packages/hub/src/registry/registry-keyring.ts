/**
 * The database-backed key resolver: every registered device key, opened with the master key and
 * derived once, held in memory so the hot path (one lookup per frame) never touches the database.
 * `reload` rebuilds the snapshot; `refreshIfChanged` reloads only when the registry's change counter
 * moved, which is how a hub sees keys another hub registered or revoked. Expiry of a rotated key is
 * checked at lookup time, so an overlap window ends on time without a reload.
 */
import { deriveDeviceKey } from '@sealstream/protocol';
import type { KeyEntry, KeyResolver } from '../pipeline/keyring.js';
import type { DeviceKeyRow, RegistryStore } from './registry-ports.js';
import type { SecretSealer } from './secret-sealer.js';

export class MasterKeyMissingError extends Error {
  constructor(keys: number) {
    super(`registry: the database holds ${keys} device key(s) but no master key is configured to open them`);
    this.name = 'MasterKeyMissingError';
  }
}

interface RegisteredKey {
  /** The entry as stored: `revoked` reflects only an explicit revocation of the key or its device. */
  readonly entry: KeyEntry;
  readonly expiresAt: number | null;
}

export interface RegistryKeyringOptions {
  readonly store: RegistryStore;
  /** Null when no master key is configured: then the registry must hold no keys. */
  readonly sealer: SecretSealer | null;
  readonly now?: () => number;
}

export class RegistryKeyring implements KeyResolver {
  private byKeyId = new Map<string, RegisteredKey>();
  private byDevice = new Map<string, RegisteredKey[]>();
  private loadedVersion = -1;
  private readonly now: () => number;

  constructor(private readonly options: RegistryKeyringOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Loads every key. Throws when a key cannot be opened: a hub must not run with half its keys. */
  async reload(): Promise<void> {
    // Read the counter first: a write landing during the load bumps it past what we record, so the
    // next refresh reloads again instead of missing it.
    const version = await this.options.store.registryVersion();
    const [rows, devices] = await Promise.all([this.options.store.listDeviceKeys(), this.options.store.listDevices()]);
    const { sealer } = this.options;
    if (sealer === null && rows.length > 0) throw new MasterKeyMissingError(rows.length);
    const revokedDevices = new Set(devices.filter((d) => d.revokedAt !== null).map((d) => d.id));
    const byKeyId = new Map<string, RegisteredKey>();
    const byDevice = new Map<string, RegisteredKey[]>();
    // Newest first, so keysForDevice tries the current key before the one it replaces.
    const newestFirst = [...rows].sort((a, b) => b.createdAt - a.createdAt);
    for (const row of newestFirst) {
      if (sealer === null) break;
      const registered = toRegisteredKey(row, sealer.open(row.keyId, row.sealedSecret), revokedDevices);
      byKeyId.set(row.keyId, registered);
      const list = byDevice.get(row.device) ?? [];
      list.push(registered);
      byDevice.set(row.device, list);
    }
    this.byKeyId = byKeyId;
    this.byDevice = byDevice;
    this.loadedVersion = version;
  }

  /** Reloads when another writer changed the registry since the last load; true when it did. */
  async refreshIfChanged(): Promise<boolean> {
    const version = await this.options.store.registryVersion();
    if (version === this.loadedVersion) return false;
    await this.reload();
    return true;
  }

  resolve(keyId: string): KeyEntry | undefined {
    const registered = this.byKeyId.get(keyId);
    return registered === undefined ? undefined : this.current(registered);
  }

  keysForDevice(device: string): readonly KeyEntry[] {
    return (this.byDevice.get(device) ?? []).map((registered) => this.current(registered));
  }

  /** True when `keyId` is registered here (live or not): new key ids must not collide with it. */
  has(keyId: string): boolean {
    return this.byKeyId.has(keyId);
  }

  get size(): number {
    return this.byKeyId.size;
  }

  private current(registered: RegisteredKey): KeyEntry {
    if (registered.entry.revoked || registered.expiresAt === null || registered.expiresAt > this.now()) {
      return registered.entry;
    }
    return { ...registered.entry, revoked: true };
  }
}

function toRegisteredKey(row: DeviceKeyRow, secret: Buffer, revokedDevices: ReadonlySet<string>): RegisteredKey {
  return {
    entry: {
      keyId: row.keyId,
      key: deriveDeviceKey(secret),
      secret,
      devices: new Set([row.device]),
      revoked: row.revokedAt !== null || revokedDevices.has(row.device),
    },
    expiresAt: row.expiresAt,
  };
}
