/**
 * Device key derivation: one 32-byte device secret becomes an encryption key and a MAC key via
 * HKDF-SHA256, so the two suites never use the same key for two purposes.
 */
import { hkdfSync } from 'node:crypto';
import { ProtocolError } from './errors.js';

export interface DeviceKey {
  readonly encKey: Buffer;
  readonly macKey: Buffer;
}

const SECRET_BYTES = 32;
const HKDF_SALT = Buffer.from('sealstream/v1', 'utf8');
const SECRET_HEX_PATTERN = /^[0-9a-fA-F]{64}$/;

/** Throws ProtocolError when the secret is not 32 bytes: a configuration bug, not wire input. */
export function deriveDeviceKey(secret: Uint8Array): DeviceKey {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new ProtocolError('unknown_key', `device secret must be exactly ${SECRET_BYTES} bytes`);
  }
  return {
    encKey: Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, 'enc', 32)),
    macKey: Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, 'mac', 32)),
  };
}

/** 64 hex characters -> 32 bytes; anything else -> undefined (callers report their own config error). */
export function parseSecretHex(hex: string): Buffer | undefined {
  if (typeof hex !== 'string' || !SECRET_HEX_PATTERN.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}
