/**
 * The devices routes: the fleet list with last-seen and rates, one device's keys, and the operator
 * actions (register, rotate a key, revoke a key, revoke a device). Issued secrets and device tokens
 * come back once, in the answer to register and rotate, and are never stored by the dashboard.
 */
import type { DeviceSummary as WireDeviceSummary } from '@sealstream/contract';
import type { ApiClient, Fetched } from './api-client.js';
import { isNullableNumber, isNullableString, isNumber, isObject, isString, parsePage } from './parse.js';

export type DeviceStatus = WireDeviceSummary['status'];

/**
 * One row of GET /api/v1/devices: the REST contract's `DeviceSummary`, except that the registry fields are
 * null (and `invalidLastHour` unread) when the hub has no device registration.
 */
export type DeviceSummary = Readonly<
  Omit<WireDeviceSummary, 'invalidLastHour' | 'registered' | 'status'> & {
    registered: WireDeviceSummary['registered'] | null;
    status: DeviceStatus | null;
  }
>;

export interface DeviceRecord {
  readonly id: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly status: 'active' | 'revoked';
}

export type KeyStatus = 'active' | 'expiring' | 'expired' | 'revoked';

export interface KeyRecord {
  readonly keyId: string;
  readonly device: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly status: KeyStatus;
}

export interface IssuedKey extends KeyRecord {
  /** 64 hex digits; shown once. */
  readonly secret: string;
  readonly deviceToken: string;
}

export interface DeviceDetail {
  readonly device: DeviceRecord;
  readonly keys: readonly KeyRecord[];
}

/** What an operator must copy now: the answer to register or rotate. */
export interface IssuedCredentials {
  readonly device: string;
  readonly key: IssuedKey;
  /** Keys that now expire (rotate only). */
  readonly previous: readonly KeyRecord[];
  readonly action: 'registered' | 'rotated';
}

/** Devices are fetched page by page up to this many; beyond it the view says the list is cut. */
export const MAX_LISTED_DEVICES = 5000;
const DEVICE_PAGE = 1000;

const DEVICE_STATUSES: readonly string[] = ['active', 'revoked', 'unregistered'];
const KEY_STATUSES: readonly string[] = ['active', 'expiring', 'expired', 'revoked'];

export function parseDeviceSummary(value: unknown): DeviceSummary | null {
  if (!isObject(value) || !isString(value['device'])) return null;
  const counts = ['totalValid', 'totalInvalid', 'validLastHour', 'perMinuteLastHour'] as const;
  if (
    !isNullableNumber(value['lastSeen'] ?? null) ||
    !isNullableNumber(value['lastReadingAt'] ?? null) ||
    !counts.every((field) => isNumber(value[field] ?? 0))
  )
    return null;
  const status = value['status'];
  return {
    device: value['device'],
    lastSeen: (value['lastSeen'] as number | null | undefined) ?? null,
    lastReadingAt: (value['lastReadingAt'] as number | null | undefined) ?? null,
    totalValid: (value['totalValid'] as number | undefined) ?? 0,
    totalInvalid: (value['totalInvalid'] as number | undefined) ?? 0,
    validLastHour: (value['validLastHour'] as number | undefined) ?? 0,
    perMinuteLastHour: (value['perMinuteLastHour'] as number | undefined) ?? 0,
    registered: typeof value['registered'] === 'boolean' ? value['registered'] : null,
    name: isString(value['name']) ? value['name'] : null,
    status: isString(status) && DEVICE_STATUSES.includes(status) ? (status as DeviceStatus) : null,
  };
}

export function parseDeviceRecord(value: unknown): DeviceRecord | null {
  if (!isObject(value)) return null;
  const ok =
    isString(value['id']) &&
    isNullableString(value['name'] ?? null) &&
    isNumber(value['createdAt']) &&
    isNullableNumber(value['revokedAt'] ?? null) &&
    (value['status'] === 'active' || value['status'] === 'revoked');
  return ok
    ? {
        id: value['id'] as string,
        name: (value['name'] as string | null | undefined) ?? null,
        createdAt: value['createdAt'] as number,
        revokedAt: (value['revokedAt'] as number | null | undefined) ?? null,
        status: value['status'] as 'active' | 'revoked',
      }
    : null;
}

export function parseKeyRecord(value: unknown): KeyRecord | null {
  if (!isObject(value)) return null;
  const ok =
    isString(value['keyId']) &&
    isString(value['device']) &&
    isNumber(value['createdAt']) &&
    isNullableNumber(value['expiresAt'] ?? null) &&
    isNullableNumber(value['revokedAt'] ?? null) &&
    isString(value['status']) &&
    KEY_STATUSES.includes(value['status']);
  return ok
    ? {
        keyId: value['keyId'] as string,
        device: value['device'] as string,
        createdAt: value['createdAt'] as number,
        expiresAt: (value['expiresAt'] as number | null | undefined) ?? null,
        revokedAt: (value['revokedAt'] as number | null | undefined) ?? null,
        status: value['status'] as KeyStatus,
      }
    : null;
}

export function parseIssuedKey(value: unknown): IssuedKey | null {
  const key = parseKeyRecord(value);
  if (key === null || !isObject(value)) return null;
  const secret = value['secret'];
  const deviceToken = value['deviceToken'];
  return isString(secret) && secret !== '' && isString(deviceToken) ? { ...key, secret, deviceToken } : null;
}

function parseKeyList(value: unknown): KeyRecord[] | null {
  if (!Array.isArray(value)) return null;
  return value.map(parseKeyRecord).filter((key): key is KeyRecord => key !== null);
}

export function parseDeviceDetail(body: unknown): DeviceDetail | null {
  if (!isObject(body)) return null;
  const device = parseDeviceRecord(body['device']);
  const keys = parseKeyList(body['keys'] ?? []);
  return device === null || keys === null ? null : { device, keys };
}

export function parseRegisterAnswer(body: unknown): IssuedCredentials | null {
  if (!isObject(body)) return null;
  const device = parseDeviceRecord(body['device']);
  const key = parseIssuedKey(body['key']);
  return device === null || key === null ? null : { device: device.id, key, previous: [], action: 'registered' };
}

export function parseRotateAnswer(body: unknown): IssuedCredentials | null {
  if (!isObject(body)) return null;
  const key = parseIssuedKey(body['key']);
  const previous = parseKeyList(body['previous'] ?? []);
  return key === null || previous === null ? null : { device: key.device, key, previous, action: 'rotated' };
}

const devicePath = (id: string): string => `/api/v1/devices/${encodeURIComponent(id)}`;

export interface DeviceList {
  readonly items: DeviceSummary[];
  /** True when the fleet has more than MAX_LISTED_DEVICES devices. */
  readonly cut: boolean;
}

export async function fetchDevices(api: ApiClient, signal: AbortSignal): Promise<Fetched<DeviceList>> {
  const items: DeviceSummary[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${DEVICE_PAGE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page = await api.getJson(`/api/v1/devices${query}`, (body) => parsePage(body, parseDeviceSummary), {
      signal,
    });
    if (!page.ok) return page;
    items.push(...page.value.items);
    cursor = page.value.nextCursor;
  } while (cursor !== null && items.length < MAX_LISTED_DEVICES);
  return { ok: true, value: { items, cut: cursor !== null } };
}

export function fetchDeviceDetail(api: ApiClient, id: string, signal: AbortSignal): Promise<Fetched<DeviceDetail>> {
  return api.getJson(devicePath(id), parseDeviceDetail, { signal });
}

export function registerDevice(api: ApiClient, id: string, name: string | null): Promise<Fetched<IssuedCredentials>> {
  return api.postJson('/api/v1/devices', parseRegisterAnswer, { body: name === null ? { id } : { id, name } });
}

export function rotateKey(api: ApiClient, id: string, overlapSeconds: number): Promise<Fetched<IssuedCredentials>> {
  return api.postJson(`${devicePath(id)}/keys`, parseRotateAnswer, { body: { overlapSeconds } });
}

export function revokeKey(api: ApiClient, id: string, keyId: string): Promise<Fetched<KeyRecord>> {
  return api.postJson(`${devicePath(id)}/keys/${encodeURIComponent(keyId)}/revoke`, parseKeyRecord, { body: {} });
}

export function revokeDevice(api: ApiClient, id: string): Promise<Fetched<DeviceRecord>> {
  return api.postJson(`${devicePath(id)}/revoke`, parseDeviceRecord, { body: {} });
}
