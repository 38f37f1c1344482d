/**
 * Which client watches which devices: validation of subscribe/unsubscribe requests (untrusted input
 * from browsers) and the per-device watcher counts the hot path asks about.
 * Bounds: a request names at most MAX_DEVICES_PER_REQUEST devices; a client watches at most
 * MAX_SUBSCRIPTIONS_PER_CLIENT devices (further subscriptions are refused and reported as invalid).
 */
import { DEVICE_ID_PATTERN } from '@sealstream/protocol';

export const MAX_DEVICES_PER_REQUEST = 100;
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 100;

/** The device list of a request, or null when the request is malformed or too large. */
export function parseDeviceRequest(request: unknown): string[] | null {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return null;
  const devices: unknown = (request as { devices?: unknown }).devices;
  if (devices === undefined) return [];
  if (!Array.isArray(devices) || devices.length > MAX_DEVICES_PER_REQUEST) return null;
  const unique = new Set<string>();
  for (const device of devices) {
    if (typeof device !== 'string' || !DEVICE_ID_PATTERN.test(device)) return null;
    unique.add(device);
  }
  return [...unique];
}

export class SubscriptionRegistry {
  private readonly byClient = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, number>();

  /** Adds what fits under the per-client cap; returns the devices newly watched and how many were refused. */
  subscribe(clientId: string, devices: readonly string[]): { added: string[]; refused: number } {
    let own = this.byClient.get(clientId);
    if (own === undefined) {
      own = new Set();
      this.byClient.set(clientId, own);
    }
    const added: string[] = [];
    let refused = 0;
    for (const device of devices) {
      if (own.has(device)) continue;
      if (own.size >= MAX_SUBSCRIPTIONS_PER_CLIENT) {
        refused += 1;
        continue;
      }
      own.add(device);
      this.watchers.set(device, (this.watchers.get(device) ?? 0) + 1);
      added.push(device);
    }
    return { added, refused };
  }

  /** Returns the devices the client actually stopped watching. */
  unsubscribe(clientId: string, devices: readonly string[]): string[] {
    const own = this.byClient.get(clientId);
    if (own === undefined) return [];
    const removed: string[] = [];
    for (const device of devices) {
      if (!own.delete(device)) continue;
      this.release(device);
      removed.push(device);
    }
    if (own.size === 0) this.byClient.delete(clientId);
    return removed;
  }

  removeClient(clientId: string): void {
    const own = this.byClient.get(clientId);
    if (own === undefined) return;
    for (const device of own) this.release(device);
    this.byClient.delete(clientId);
  }

  devicesOf(clientId: string): ReadonlySet<string> {
    return this.byClient.get(clientId) ?? EMPTY;
  }

  isWatched(device: string): boolean {
    return this.watchers.has(device);
  }

  /** Number of distinct watched devices. */
  get watchedDevices(): number {
    return this.watchers.size;
  }

  clear(): void {
    this.byClient.clear();
    this.watchers.clear();
  }

  private release(device: string): void {
    const count = (this.watchers.get(device) ?? 0) - 1;
    if (count > 0) this.watchers.set(device, count);
    else this.watchers.delete(device);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
