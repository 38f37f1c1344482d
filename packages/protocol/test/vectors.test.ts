import { readFileSync } from 'node:fs';
import {
  deriveDeviceKey,
  encodeAck,
  encodeClose,
  encodeError,
  encodePing,
  encodePong,
  legacyKey,
  legacySecretKey,
  openLegacyToken,
  sealLegacyToken,
  sealReadings,
  type CipherSuiteNumber,
  type ReasonCode,
  type Reading,
} from '@sealstream/protocol';
import { describe, expect, it } from 'vitest';

interface Vectors {
  device: { secretHex: string; encKeyHex: string; macKeyHex: string };
  keyId: string;
  sentAt: number;
  readings: Reading[];
  plaintext: string;
  dataFrames: Array<{ name: string; suite: CipherSuiteNumber; frameId: number; ivHex: string; frameHex: string }>;
  controlFrames: {
    ack: { frameId: number; accepted: number; duplicates: number; rejected: number; frameHex: string };
    error: { frameId: number; reason: ReasonCode; message: string; frameHex: string };
    ping: { nonce: string; frameHex: string };
    pong: { nonce: string; frameHex: string };
    close: { code: number; frameHex: string };
  };
  legacy: {
    encryptionKey: string;
    keyHex: string;
    message: { name: string; origin: string; destination: string };
    sortedSecretKey: string;
    insertionSecretKey: string;
    ivHex: string;
    sortedToken: string;
    insertionToken: string;
  };
}

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')) as Vectors;
const protocolDoc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const key = deriveDeviceKey(Buffer.from(vectors.device.secretHex, 'hex'));

describe('fixed test vectors', () => {
  it('derives the documented keys', () => {
    expect(key.encKey.toString('hex')).toBe(vectors.device.encKeyHex);
    expect(key.macKey.toString('hex')).toBe(vectors.device.macKeyHex);
    expect(protocolDoc).toContain(vectors.device.encKeyHex);
    expect(protocolDoc).toContain(vectors.device.macKeyHex);
  });

  it('the readings serialise to the documented plaintext', () => {
    expect(JSON.stringify(vectors.readings)).toBe(vectors.plaintext);
  });

  for (const vector of vectors.dataFrames) {
    it(`seals the ${vector.name} DATA frame byte for byte, and the doc carries it`, () => {
      const frame = sealReadings(vectors.readings, key, {
        suite: vector.suite,
        keyId: vectors.keyId,
        frameId: vector.frameId,
        sentAt: vectors.sentAt,
        iv: Buffer.from(vector.ivHex, 'hex'),
      });
      expect(frame.toString('hex')).toBe(vector.frameHex);
      expect(protocolDoc).toContain(vector.frameHex);
    });
  }

  it('encodes the control frames byte for byte, and the doc carries them', () => {
    const { ack, error, ping, pong, close } = vectors.controlFrames;
    expect(encodeAck(ack).toString('hex')).toBe(ack.frameHex);
    expect(encodeError(error.frameId, error.reason, error.message).toString('hex')).toBe(error.frameHex);
    expect(encodePing(BigInt(ping.nonce)).toString('hex')).toBe(ping.frameHex);
    expect(encodePong(BigInt(pong.nonce)).toString('hex')).toBe(pong.frameHex);
    expect(encodeClose(close.code).toString('hex')).toBe(close.frameHex);
    for (const hex of [ack, error, ping, pong, close].map((v) => v.frameHex)) expect(protocolDoc).toContain(hex);
  });

  it('reproduces the legacy (seed) vector in both hash variants, and the doc carries it', () => {
    const { legacy } = vectors;
    const legacyKeyBytes = legacyKey(legacy.encryptionKey);
    expect(legacyKeyBytes.toString('hex')).toBe(legacy.keyHex);
    // The design brief's values, independent of our own generator.
    expect(legacySecretKey(legacy.message)).toBe('41068d2ee40fb2eb7095286e65e035d10f3a5edd1292e872d465de3bd2bc2275');
    expect(legacySecretKey(legacy.message, 'insertion')).toBe(
      'fb6e0f76ed5cc1aafaff30b42bba47e4b849a5a40c10f76453bfad6388b3798f',
    );
    expect(legacySecretKey(legacy.message, 'sorted')).toBe(legacy.sortedSecretKey);
    expect(legacySecretKey(legacy.message, 'insertion')).toBe(legacy.insertionSecretKey);
    const iv = Buffer.from(legacy.ivHex, 'hex');
    expect(sealLegacyToken(legacy.message, legacyKeyBytes, { iv })).toBe(legacy.sortedToken);
    expect(sealLegacyToken(legacy.message, legacyKeyBytes, { iv, variant: 'insertion' })).toBe(legacy.insertionToken);
    for (const [token, variant] of [
      [legacy.sortedToken, 'sorted'],
      [legacy.insertionToken, 'insertion'],
    ] as const) {
      expect(openLegacyToken(token, legacyKeyBytes)).toEqual({
        ok: true,
        message: legacy.message,
        ivHex: legacy.ivHex,
        variant,
      });
      expect(protocolDoc).toContain(token);
    }
    expect(protocolDoc).toContain(legacy.sortedSecretKey);
    expect(protocolDoc).toContain(legacy.insertionSecretKey);
  });
});
