/**
 * What the device registry needs from storage: devices, their sealed key secrets and API keys, plus a
 * change counter so several hubs sharing one database notice each other's writes. The SQL store
 * implements it; the registry never imports an implementation.
 */

export interface DeviceRow {
  readonly id: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

export interface DeviceKeyRow {
  readonly keyId: string;
  readonly device: string;
  /** The device secret sealed under the master key (see secret-sealer.ts); never the plain secret. */
  readonly sealedSecret: Uint8Array;
  readonly createdAt: number;
  /** Set when a rotation superseded the key: it keeps working until then (the overlap window). */
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  /** 'utf8': sealedSecret holds a string HMAC credential's UTF-8 bytes (absent = 'raw', 32 bytes). */
  readonly kind?: SecretKind;
}

/** How a device key's secret is held: 32 raw bytes, or a string HMAC credential (XRayIOT). */
export type SecretKind = 'raw' | 'utf8';

/** `read` acts as a viewer, `manage` as an operator; devices authenticate with their own keys, not API keys. */
export type ApiKeyScope = 'read' | 'manage';
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['read', 'manage'];

export interface ApiKeyRow {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface ApiKeyWithHash extends ApiKeyRow {
  /** SHA-256 of the key's secret part. */
  readonly secretHash: Uint8Array;
}

export type InsertResult<T> =
  { readonly ok: true; readonly row: T } | { readonly ok: false; readonly reason: 'exists' };

export interface RegistryStore {
  /** Bumped by every registry write; hubs poll it to reload keys written by another hub. */
  registryVersion(): Promise<number>;
  listDevices(): Promise<DeviceRow[]>;
  findDevice(id: string): Promise<DeviceRow | undefined>;
  /** Inserts the device and its first key in one transaction. */
  insertDeviceWithKey(device: { id: string; name: string | null }, key: NewDeviceKey): Promise<InsertResult<DeviceRow>>;
  /** Inserts `key` and gives every other live key of the device `expiresAt` (when earlier), in one transaction. */
  rotateDeviceKey(device: string, key: NewDeviceKey, previousExpireAt: number): Promise<DeviceKeyRow[]>;
  revokeDeviceKey(device: string, keyId: string, at: number): Promise<DeviceKeyRow | undefined>;
  /** Revokes the device and all its keys. */
  revokeDevice(device: string, at: number): Promise<DeviceRow | undefined>;
  listDeviceKeys(device?: string): Promise<DeviceKeyRow[]>;
  insertApiKey(key: NewApiKey): Promise<ApiKeyRow>;
  findApiKey(id: string): Promise<ApiKeyWithHash | undefined>;
  listApiKeys(): Promise<ApiKeyRow[]>;
  revokeApiKey(id: string, at: number): Promise<ApiKeyRow | undefined>;
  touchApiKey(id: string, at: number): Promise<void>;
}

export interface NewDeviceKey {
  readonly keyId: string;
  readonly sealedSecret: Uint8Array;
  readonly createdAt: number;
  readonly kind?: SecretKind;
}

export interface NewApiKey {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
  readonly secretHash: Uint8Array;
  readonly createdAt: number;
}
