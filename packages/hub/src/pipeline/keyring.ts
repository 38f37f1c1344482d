/**
 * Device keys as the pipeline sees them: a key id resolves to derived key material, the devices the key
 * may speak for, and whether it was revoked. The static keyring serves config-provided keys; a
 * database-backed resolver can implement the same interface.
 */
import { createHash } from 'node:crypto';
import { deriveDeviceKey, type DeviceKey } from '@sealstream/protocol';

/**
 * XRayIOT's shipped default HMAC secret. Anyone who read its source knows it, so a credential holding
 * it proves nothing: refused outside --demo (configuration, registration and verification all check).
 */
export const XRAYIOT_DEFAULT_SECRET = 'default-secret-key-change-in-production';

/** Fewest UTF-8 bytes a string HMAC credential may have: shorter strings are guessable. */
export const MIN_STRING_SECRET_BYTES = 16;
export const MAX_STRING_SECRET_BYTES = 1024;

/**
 * The secrets of a string credential (XRayIOT's HMAC secret): the UTF-8 bytes are the HMAC key of
 * signed JSON; SHA-256 of them is the 32-byte secret sealed frames derive from.
 */
export function stringCredential(text: string | Uint8Array): { secret: Buffer; hmacSecret: Buffer } {
  const hmacSecret = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  return { secret: createHash('sha256').update(hmacSecret).digest(), hmacSecret };
}

export interface KeyEntry {
  readonly keyId: string;
  readonly key: DeviceKey;
  /**
   * The device secret the key was derived from. HTTP ingest needs it: XRayIOT-style HMAC signatures and
   * device bearer tokens are computed from it. Held in memory only; never logged.
   */
  readonly secret: Uint8Array;
  /**
   * Set for a string credential (XRayIOT's HMAC secret): the UTF-8 bytes of the string, the HMAC key of
   * signed JSON. Its `secret` is then SHA-256 of those bytes, so the same credential can seal frames.
   */
  readonly hmacSecret?: Uint8Array;
  /** 'any' for a shared (demo or gateway) key; otherwise the device ids this key may speak for. */
  readonly devices: 'any' | ReadonlySet<string>;
  readonly revoked: boolean;
}

export interface KeyResolver {
  resolve(keyId: string): KeyEntry | undefined;
  /** Every key (revoked ones included) that may speak for `device`, shared 'any' keys too; newest first. */
  keysForDevice(device: string): readonly KeyEntry[];
  /** True when the device itself was revoked: no key, not even a shared gateway key, may speak for it. */
  isDeviceRevoked(device: string): boolean;
}

export interface KeySpec {
  readonly keyId: string;
  readonly secret: Uint8Array;
  /** See KeyEntry.hmacSecret. */
  readonly hmacSecret?: Uint8Array;
  readonly devices: 'any' | readonly string[];
  readonly revoked?: boolean;
}

export class StaticKeyring implements KeyResolver {
  private readonly entries = new Map<string, KeyEntry>();

  constructor(specs: readonly KeySpec[]) {
    for (const spec of specs) {
      this.entries.set(spec.keyId, {
        keyId: spec.keyId,
        key: deriveDeviceKey(spec.secret),
        secret: Uint8Array.from(spec.secret),
        ...(spec.hmacSecret === undefined ? {} : { hmacSecret: Uint8Array.from(spec.hmacSecret) }),
        devices: spec.devices === 'any' ? 'any' : new Set(spec.devices),
        revoked: spec.revoked ?? false,
      });
    }
  }

  resolve(keyId: string): KeyEntry | undefined {
    return this.entries.get(keyId);
  }

  keysForDevice(device: string): readonly KeyEntry[] {
    const found: KeyEntry[] = [];
    for (const entry of this.entries.values()) {
      if (entry.devices === 'any' || entry.devices.has(device)) found.push(entry);
    }
    // Config order is oldest first; callers try the newest key first.
    return found.reverse();
  }

  isDeviceRevoked(): boolean {
    // Configuration revokes keys, not devices; the registry revokes devices.
    return false;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Several resolvers asked in order: config keys first (operators pin them deliberately), then the
 * device registry. A key id is answered by the first resolver that knows it.
 */
const NO_KEYS: readonly KeyEntry[] = [];

export class KeyringChain implements KeyResolver {
  private readonly resolvers: readonly KeyResolver[];
  /** The registry's per-device keys are more specific than shared config keys: tried first. */
  private readonly mostSpecificFirst: readonly KeyResolver[];

  constructor(...resolvers: KeyResolver[]) {
    this.resolvers = resolvers;
    this.mostSpecificFirst = [...resolvers].reverse();
  }

  resolve(keyId: string): KeyEntry | undefined {
    for (const resolver of this.resolvers) {
      const entry = resolver.resolve(keyId);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  keysForDevice(device: string): readonly KeyEntry[] {
    // Asked for every signed message: the usual case (one resolver knows the device) copies nothing.
    let found: readonly KeyEntry[] = NO_KEYS;
    for (const resolver of this.mostSpecificFirst) {
      const keys = resolver.keysForDevice(device);
      if (keys.length === 0) continue;
      found = found.length === 0 ? keys : [...found, ...keys];
    }
    return found;
  }

  isDeviceRevoked(device: string): boolean {
    return this.resolvers.some((resolver) => resolver.isDeviceRevoked(device));
  }
}
