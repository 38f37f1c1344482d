/**
 * The database-backed key resolver: every registered device key, opened with the master key and
 * derived once, held in memory so the hot path (one lookup per frame) never touches the database.
 * `reload` rebuilds the snapshot; `refreshIfChanged` reloads only when the registry's change counter
 * moved, which is how a hub sees keys another hub registered or revoked. Expiry of a rotated key is
 * checked at lookup time, so an overlap window ends on time without a reload. Loads run one at a time,
 * so a slow load can never install an older snapshot over a newer one. At start-up a key that cannot be
 * opened is fatal; later it is left out (and reported) while everything else — revocations above all —
 * still applies.
 */
import { deriveDeviceKey } from '@sealstream/protocol';
import { stringCredential, type KeyEntry, type KeyResolver } from '../pipeline/keyring.js';
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
  /** Told about keys a tolerant reload had to leave out (wrong master key on another hub, an altered row). */
  readonly onUnopenable?: (keyIds: readonly string[], error: Error) => void;
}

export class RegistryKeyring implements KeyResolver {
  private byKeyId = new Map<string, RegisteredKey>();
  private byDevice = new Map<string, RegisteredKey[]>();
  private revokedDevices: ReadonlySet<string> = new Set();
  private loadedVersion = -1;
  private readonly now: () => number;
  /** The load in progress (or the last one); the next waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RegistryKeyringOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads every key. `strict` (start-up): throws when a key cannot be opened, since a hub must not start
   * with half its keys. Otherwise such keys are left out and reported, and the rest is applied.
   */
  reload(options: { strict?: boolean } = {}): Promise<void> {
    const run = this.queue.then(() => this.load(options.strict === true));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(strict: boolean): Promise<void> {
    // Read the counter first: a write landing during the load bumps it past what we record, so the
    // next refresh reloads again instead of missing it.
    const version = await this.options.store.registryVersion();
    const [rows, devices] = await Promise.all([this.options.store.listDeviceKeys(), this.options.store.listDevices()]);
    const { sealer } = this.options;
    if (sealer === null && rows.length > 0 && strict) throw new MasterKeyMissingError(rows.length);
    const unopenable: string[] = [];
    let firstError: Error | undefined;
    const revokedDevices = new Set(devices.filter((d) => d.revokedAt !== null).map((d) => d.id));
    const byKeyId = new Map<string, RegisteredKey>();
    const byDevice = new Map<string, RegisteredKey[]>();
    // Newest first, so keysForDevice tries the current key before the one it replaces.
    const newestFirst = [...rows].sort((a, b) => b.createdAt - a.createdAt);
    for (const row of newestFirst) {
      let secret: Buffer;
      try {
        if (sealer === null) throw new MasterKeyMissingError(rows.length);
        secret = sealer.open(row.keyId, row.sealedSecret);
      } catch (error) {
        if (strict) throw error;
        unopenable.push(row.keyId);
        firstError ??= error as Error;
        continue;
      }
      const registered = toRegisteredKey(row, secret, revokedDevices);
      byKeyId.set(row.keyId, registered);
      const list = byDevice.get(row.device) ?? [];
      list.push(registered);
      byDevice.set(row.device, list);
    }
    this.byKeyId = byKeyId;
    this.byDevice = byDevice;
    this.revokedDevices = revokedDevices;
    this.loadedVersion = version;
    if (firstError !== undefined) this.options.onUnopenable?.(unopenable, firstError);
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

  isDeviceRevoked(device: string): boolean {
    return this.revokedDevices.has(device);
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

function toRegisteredKey(row: DeviceKeyRow, opened: Buffer, revokedDevices: ReadonlySet<string>): RegisteredKey {
  // A string credential holds the string's bytes: they are the HMAC key, their SHA-256 the frame secret.
  const { secret, hmacSecret } =
    row.kind === 'utf8' ? stringCredential(opened) : { secret: opened, hmacSecret: undefined };
  return {
    entry: {
      keyId: row.keyId,
      key: deriveDeviceKey(secret),
      secret,
      ...(hmacSecret === undefined ? {} : { hmacSecret }),
      devices: new Set([row.device]),
      revoked: row.revokedAt !== null || revokedDevices.has(row.device),
    },
    expiresAt: row.expiresAt,
  };
}
