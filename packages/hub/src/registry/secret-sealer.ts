/**
 * Encryption at rest for device secrets: AES-256-GCM under the hub's master key, with the key id as
 * associated data so a sealed secret cannot be moved to another key's row. Layout:
 * version (1 byte, 1) | IV (12) | ciphertext | tag (16). A wrong master key or an edited row fails to
 * open with a typed error that names neither the secret nor the master key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const MASTER_KEY_BYTES = 32;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedSecretError extends Error {
  constructor(readonly keyId: string) {
    super(
      `registry: the stored secret of key ${keyId} does not open with this master key (wrong master key or altered row)`,
    );
    this.name = 'SealedSecretError';
  }
}

export class SecretSealer {
  private readonly masterKey: Buffer;

  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== MASTER_KEY_BYTES) {
      throw new Error(`registry: the master key must be ${MASTER_KEY_BYTES} bytes`);
    }
    // A private copy: the caller may zero or reuse its buffer.
    this.masterKey = Buffer.from(masterKey);
  }

  seal(keyId: string, secret: Uint8Array): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv);
    cipher.setAAD(associatedData(keyId));
    const body = Buffer.concat([cipher.update(secret), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
  }

  open(keyId: string, sealed: Uint8Array): Buffer {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) throw new SealedSecretError(keyId);
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.masterKey, iv);
      decipher.setAAD(associatedData(keyId));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new SealedSecretError(keyId);
    }
  }
}

function associatedData(keyId: string): Buffer {
  return Buffer.from(`sealstream device key v1\u0000${keyId}`, 'utf8');
}
