/** Shared fixtures for the protocol tests: a fixed device key and sample readings. */
import { deriveDeviceKey, type DeviceKey, type Reading } from '@sealstream/protocol';

export const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
export const KEY: DeviceKey = deriveDeviceKey(SECRET);
export const OTHER_KEY: DeviceKey = deriveDeviceKey(Buffer.alloc(32, 7));

export function sampleReadings(count: number, device = 'sensor-1'): Reading[] {
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: i + 1,
    ts: 1_700_000_000_000 + i * 1000,
    data: { t: 20 + i / 4, unit: 'C', ok: i % 2 === 0 },
  }));
}
