// Tests for the device registry answer checks: summaries old and new, issued keys, rotate answers.
import { describe, expect, it } from 'vitest';
import {
  parseDeviceDetail,
  parseDeviceSummary,
  parseRegisterAnswer,
  parseRotateAnswer,
} from '../src/api/device-api.js';
import { fleetRows } from '../src/fleet-rows.js';

const key = { keyId: 'k-1', device: 'dev-1', createdAt: 1, expiresAt: null, revokedAt: null, status: 'active' };
const issued = { ...key, secret: 'ab'.repeat(32), deviceToken: 'sst_k-1_x' };
const device = { id: 'dev-1', name: null, createdAt: 1, revokedAt: null, status: 'active' };

describe('parseDeviceSummary', () => {
  it('reads the summary of a hub without a registry (no status) and with one (lastSeen may be null)', () => {
    const old = { device: 'a', lastSeen: 5, totalValid: 9, totalInvalid: 1, validLastHour: 60, perMinuteLastHour: 1 };
    expect(parseDeviceSummary(old)).toMatchObject({ device: 'a', status: null, registered: null });
    const registered = { ...old, lastSeen: null, registered: true, name: 'Pump', status: 'active' };
    expect(parseDeviceSummary(registered)).toMatchObject({ lastSeen: null, name: 'Pump', status: 'active' });
  });
  it('refuses a summary without an id or with a non-numeric counter', () => {
    expect(parseDeviceSummary({ lastSeen: 1 })).toBeNull();
    expect(parseDeviceSummary({ device: 'a', lastSeen: 1, totalValid: 'x' })).toBeNull();
  });
});

describe('register and rotate answers', () => {
  it('need the issued secret and device token', () => {
    expect(parseRegisterAnswer({ device, key: issued })).toMatchObject({ device: 'dev-1', action: 'registered' });
    expect(parseRegisterAnswer({ device, key })).toBeNull();
    const rotated = parseRotateAnswer({ key: { ...issued, keyId: 'k-2' }, previous: [{ ...key, status: 'expiring' }] });
    expect(rotated?.previous[0]?.status).toBe('expiring');
    expect(rotated?.action).toBe('rotated');
  });
  it('reads a device with its keys and skips malformed keys', () => {
    const detail = parseDeviceDetail({ device, keys: [key, { keyId: 7 }] });
    expect(detail?.keys).toHaveLength(1);
    expect(parseDeviceDetail({ keys: [] })).toBeNull();
  });
});

describe('fleetRows', () => {
  it('computes rate per second and reject share, filters by id or name, sorts numerically', () => {
    const summary = (id: string, valid: number, invalid: number, name: string | null = null) => ({
      device: id,
      lastSeen: 1,
      lastReadingAt: null,
      totalValid: valid,
      totalInvalid: invalid,
      validLastHour: 0,
      perMinuteLastHour: 120,
      registered: null,
      name,
      status: null,
    });
    const rows = fleetRows([summary('dev-10', 3, 1), summary('dev-2', 0, 0, 'Boiler')], '');
    expect(rows.map((row) => row.id)).toEqual(['dev-2', 'dev-10']);
    expect(rows[1]).toMatchObject({ ratePerSec: 2, rejectPercent: 25, status: 'seen' });
    expect(rows[0]?.rejectPercent).toBeNull();
    expect(fleetRows([summary('dev-10', 1, 0), summary('dev-2', 1, 0, 'Boiler')], 'boil').map((r) => r.id)).toEqual([
      'dev-2',
    ]);
  });

  it("shows the newest reading's time as last seen, not the start of its minute", () => {
    const minute = Date.UTC(2026, 11, 7, 3, 0);
    const parsed = parseDeviceSummary({
      device: 'pump-7',
      lastSeen: minute,
      lastReadingAt: minute + 37_000,
      totalValid: 5,
      totalInvalid: 0,
      validLastHour: 5,
      perMinuteLastHour: 5,
    });
    if (parsed === null) throw new Error('summary did not parse');
    expect(fleetRows([parsed], '')[0]?.lastSeen).toBe(minute + 37_000);
    // A hub that does not say it yet: the minute, as before.
    const older = parseDeviceSummary({ ...parsed, lastReadingAt: undefined });
    expect(older === null ? null : fleetRows([older], '')[0]?.lastSeen).toBe(minute);
  });
});
