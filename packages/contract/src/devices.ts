/** GET /api/v1/devices: one summary per device known from its data or the registry. */
import { Type, type Static } from '@sinclair/typebox';
import { stringEnum } from './string-enum.js';

export const DeviceStatus = stringEnum(['active', 'revoked', 'unregistered'] as const);
export type DeviceStatus = Static<typeof DeviceStatus>;

export const DeviceSummary = Type.Object(
  {
    device: Type.String(),
    lastSeen: Type.Union([Type.Number(), Type.Null()], {
      description: 'start of the newest minute with data from this device, ms; null when never seen',
    }),
    lastReadingAt: Type.Union([Type.Number(), Type.Null()], {
      description: 'device time of its newest stored reading, ms; null when none is stored in the lastSeen minute',
    }),
    totalValid: Type.Number(),
    totalInvalid: Type.Number(),
    validLastHour: Type.Number(),
    invalidLastHour: Type.Number(),
    perMinuteLastHour: Type.Number({
      description:
        "validLastHour per minute since the device's first minute with data in that hour (at least 1 minute)",
    }),
    registered: Type.Boolean({ description: 'true when the hub issued keys for this device' }),
    name: Type.Union([Type.String(), Type.Null()]),
    status: DeviceStatus,
  },
  { $id: 'DeviceSummary' },
);
export type DeviceSummary = Static<typeof DeviceSummary>;
