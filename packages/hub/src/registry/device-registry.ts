/**
 * Registering devices and managing their keys: a fresh random secret per key, shown once and stored
 * only sealed under the master key; rotation that lets the previous key work for an overlap window;
 * revocation of one key or a whole device. Every write reloads the in-memory keyring before it
 * returns, so a revoked key is refused by the very next frame on this hub (other hubs see it at their
 * next registry refresh). A reload that fails does not undo or hide the write: it is reported, and the
 * periodic refresh retries.
 */
import { randomBytes } from 'node:crypto';
import {
  MAX_STRING_SECRET_BYTES,
  MIN_STRING_SECRET_BYTES,
  XRAYIOT_DEFAULT_SECRET,
  stringCredential,
} from '../pipeline/keyring.js';
import { DEVICE_ID_PATTERN, SealstreamError } from '@sealstream/protocol';
import type { DeviceKeyRow, DeviceRow, RegistryStore, SecretKind } from './registry-ports.js';
import type { RegistryKeyring } from './registry-keyring.js';
import type { SecretSealer } from './secret-sealer.js';

export const DEVICE_SECRET_BYTES = 32;
export const DEFAULT_ROTATION_OVERLAP_MS = 86_400_000;

export type KeyStatus = 'active' | 'expiring' | 'expired' | 'revoked';

export interface DeviceRecord {
  readonly id: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly status: 'active' | 'revoked';
}

export interface KeyRecord {
  readonly keyId: string;
  readonly device: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly status: KeyStatus;
  /** 'utf8': a string HMAC credential (XRayIOT's HMAC_SECRET); 'raw': a random 32-byte secret. */
  readonly kind: SecretKind;
}

/** A new key as its owner sees it exactly once. */
export interface IssuedKey extends KeyRecord {
  /**
   * 64 hex characters: the device secret every seal derives from. For a string credential, SHA-256 of
   * the string (the string itself, the HMAC key of signed JSON, is never echoed).
   */
  readonly secret: string;
  /** Bearer token for the InsightHub-style `POST /ingest`, derived from the secret. */
  readonly deviceToken: string;
}

export type RegistryErrorCode = 'invalid' | 'not_found' | 'conflict' | 'registry_unavailable';

/** A refusal the API turns into its error shape; messages never contain a secret. */
export class RegistryError extends SealstreamError {
  declare readonly code: RegistryErrorCode;

  constructor(code: RegistryErrorCode, message: string) {
    // Each is about the request or the configuration: the same call fails the same way until that changes.
    super(code, message, false);
    this.name = 'RegistryError';
  }
}

export interface DeviceRegistryOptions {
  readonly store: RegistryStore;
  readonly keyring: RegistryKeyring;
  /** Null when no master key is configured: reads work, issuing keys is refused. */
  readonly sealer: SecretSealer | null;
  /** True when a key id is already taken outside the registry (config keys). */
  readonly keyIdTakenElsewhere: (keyId: string) => boolean;
  readonly deviceToken: (keyId: string, secret: Uint8Array) => string;
  readonly defaultOverlapMs?: number;
  /** Accept XRayIOT's published default secret as a string credential (only --demo). */
  readonly allowDefaultSecret?: boolean;
  readonly now?: () => number;
  /**
   * Told when the keyring could not be reloaded after a write. The write stands (and is answered); the
   * periodic refresh sees the registry's counter moved and tries again.
   */
  readonly onReloadError?: (error: unknown) => void;
}

export class DeviceRegistry {
  private readonly now: () => number;

  constructor(private readonly options: DeviceRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  get canIssueKeys(): boolean {
    return this.options.sealer !== null;
  }

  /**
   * `hmacSecret`: register a string HMAC credential (XRayIOT's HMAC_SECRET) instead of a random secret;
   * 16..1024 UTF-8 bytes, never XRayIOT's published default outside demo.
   */
  async register(request: {
    id: string;
    name: string | null;
    hmacSecret?: string;
  }): Promise<{ device: DeviceRecord; key: IssuedKey }> {
    if (!DEVICE_ID_PATTERN.test(request.id)) {
      throw new RegistryError('invalid', 'device id must be 1..128 characters of [A-Za-z0-9._:-]');
    }
    const { sealer, secret, stored, kind, keyId, createdAt } = this.prepareKey(request.hmacSecret);
    const result = await this.options.store.insertDeviceWithKey(
      { id: request.id, name: request.name },
      { keyId, sealedSecret: sealer.seal(keyId, stored), createdAt, kind },
    );
    if (!result.ok) throw new RegistryError('conflict', `device ${request.id} is already registered`);
    await this.reloadAfterWrite();
    return { device: toDeviceRecord(result.row), key: this.issued(keyId, request.id, secret, createdAt, kind) };
  }

  /**
   * A new key for the device; its other live keys keep working until now + overlap (never later than
   * an expiry they already had), then are refused as revoked.
   */
  async rotate(
    device: string,
    overlapMs?: number,
    hmacSecret?: string,
  ): Promise<{ key: IssuedKey; previous: KeyRecord[] }> {
    const current = await this.requireActiveDevice(device);
    const { sealer, secret, stored, kind, keyId, createdAt } = this.prepareKey(hmacSecret);
    const overlap = overlapMs ?? this.options.defaultOverlapMs ?? DEFAULT_ROTATION_OVERLAP_MS;
    const previous = await this.options.store.rotateDeviceKey(
      current.id,
      { keyId, sealedSecret: sealer.seal(keyId, stored), createdAt, kind },
      createdAt + overlap,
    );
    await this.reloadAfterWrite();
    return {
      key: this.issued(keyId, current.id, secret, createdAt, kind),
      previous: previous.map((row) => toKeyRecord(row, this.now())),
    };
  }

  async revokeKey(device: string, keyId: string): Promise<KeyRecord> {
    await this.requireDevice(device);
    const row = await this.options.store.revokeDeviceKey(device, keyId, this.now());
    if (row === undefined) throw new RegistryError('not_found', `device ${device} has no key ${keyId}`);
    await this.reloadAfterWrite();
    return toKeyRecord(row, this.now());
  }

  async revokeDevice(device: string): Promise<DeviceRecord> {
    await this.requireDevice(device);
    const row = await this.options.store.revokeDevice(device, this.now());
    if (row === undefined) throw new RegistryError('not_found', `device ${device} is not registered`);
    await this.reloadAfterWrite();
    return toDeviceRecord(row);
  }

  async describe(device: string): Promise<{ device: DeviceRecord; keys: KeyRecord[] }> {
    const row = await this.requireDevice(device);
    const keys = await this.options.store.listDeviceKeys(device);
    const now = this.now();
    return { device: toDeviceRecord(row), keys: keys.map((key) => toKeyRecord(key, now)) };
  }

  async list(): Promise<DeviceRecord[]> {
    return (await this.options.store.listDevices()).map(toDeviceRecord);
  }

  private async reloadAfterWrite(): Promise<void> {
    try {
      await this.options.keyring.reload();
    } catch (error) {
      this.options.onReloadError?.(error);
    }
  }

  /** `secret`: the 32-byte frame secret; `stored`: what is sealed (the string's bytes for a string credential). */
  private prepareKey(hmacSecret?: string): {
    sealer: SecretSealer;
    secret: Buffer;
    stored: Buffer;
    kind: SecretKind;
    keyId: string;
    createdAt: number;
  } {
    const { sealer } = this.options;
    if (hmacSecret !== undefined) this.checkStringSecret(hmacSecret);
    if (sealer === null) {
      throw new RegistryError(
        'registry_unavailable',
        'no master key is configured (SEALSTREAM_MASTER_KEY), so device keys cannot be stored',
      );
    }
    let keyId = newKeyId();
    // 64 random bits make a collision astronomically unlikely; the loop makes it impossible.
    while (this.options.keyring.has(keyId) || this.options.keyIdTakenElsewhere(keyId)) keyId = newKeyId();
    const createdAt = this.now();
    if (hmacSecret === undefined) {
      const secret = randomBytes(DEVICE_SECRET_BYTES);
      return { sealer, secret, stored: secret, kind: 'raw', keyId, createdAt };
    }
    const credential = stringCredential(hmacSecret);
    return { sealer, secret: credential.secret, stored: credential.hmacSecret, kind: 'utf8', keyId, createdAt };
  }

  private checkStringSecret(text: string): void {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes < MIN_STRING_SECRET_BYTES || bytes > MAX_STRING_SECRET_BYTES) {
      throw new RegistryError(
        'invalid',
        `hmacSecret must be ${MIN_STRING_SECRET_BYTES}..${MAX_STRING_SECRET_BYTES} bytes of UTF-8`,
      );
    }
    if (text === XRAYIOT_DEFAULT_SECRET && this.options.allowDefaultSecret !== true) {
      throw new RegistryError('invalid', "hmacSecret is XRayIOT's published default secret; choose your own");
    }
  }

  private issued(keyId: string, device: string, secret: Buffer, createdAt: number, kind: SecretKind): IssuedKey {
    return {
      kind,
      keyId,
      device,
      createdAt,
      expiresAt: null,
      revokedAt: null,
      status: 'active',
      secret: secret.toString('hex'),
      deviceToken: this.options.deviceToken(keyId, secret),
    };
  }

  private async requireDevice(device: string): Promise<DeviceRow> {
    const row = await this.options.store.findDevice(device);
    if (row === undefined) throw new RegistryError('not_found', `device ${device} is not registered`);
    return row;
  }

  private async requireActiveDevice(device: string): Promise<DeviceRow> {
    const row = await this.requireDevice(device);
    if (row.revokedAt !== null) throw new RegistryError('conflict', `device ${device} is revoked`);
    return row;
  }
}

function newKeyId(): string {
  return `k-${randomBytes(8).toString('hex')}`;
}

export function toDeviceRecord(row: DeviceRow): DeviceRecord {
  return { ...row, status: row.revokedAt === null ? 'active' : 'revoked' };
}

export function toKeyRecord(row: DeviceKeyRow, now: number): KeyRecord {
  return {
    keyId: row.keyId,
    device: row.device,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    status: keyStatus(row, now),
    kind: row.kind ?? 'raw',
  };
}

function keyStatus(row: DeviceKeyRow, now: number): KeyStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt === null) return 'active';
  return row.expiresAt > now ? 'expiring' : 'expired';
}
