/**
 * Device keys as the pipeline sees them: a key id resolves to derived key material, the devices the key
 * may speak for, and whether it was revoked. The static keyring serves config-provided keys; a
 * database-backed resolver can implement the same interface.
 */
import { deriveDeviceKey, type DeviceKey } from '@sealstream/protocol';

export interface KeyEntry {
  readonly keyId: string;
  readonly key: DeviceKey;
  /** 'any' for a shared (demo or gateway) key; otherwise the device ids this key may speak for. */
  readonly devices: 'any' | ReadonlySet<string>;
  readonly revoked: boolean;
}

export interface KeyResolver {
  resolve(keyId: string): KeyEntry | undefined;
}

export interface KeySpec {
  readonly keyId: string;
  readonly secret: Uint8Array;
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
        devices: spec.devices === 'any' ? 'any' : new Set(spec.devices),
        revoked: spec.revoked ?? false,
      });
    }
  }

  resolve(keyId: string): KeyEntry | undefined {
    return this.entries.get(keyId);
  }

  get size(): number {
    return this.entries.size;
  }
}
