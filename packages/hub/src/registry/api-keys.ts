/**
 * API keys for machine clients: `ssk_<id>_<secret>`, where the id is public (it names the key in lists
 * and logs) and only a SHA-256 of the 256-bit random secret is stored. A fast hash is right here: the
 * secret is random, not a password, so there is nothing to brute-force. Keys carry scopes; revocation
 * takes effect on the next request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRow, ApiKeyScope, RegistryStore } from './registry-ports.js';

const PREFIX = 'ssk_';
const ID_PATTERN = /^[0-9a-f]{12}$/;
const KEY_PATTERN = /^ssk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** last_used_at is a hint for operators, so it is written at most this often per key. */
const TOUCH_INTERVAL_MS = 60_000;
/** Bound of the last-touch memo; when full it is cleared (a few extra writes, never unbounded memory). */
const TOUCH_MEMO_MAX = 10_000;

export type ApiKeyCheck = { readonly ok: true; readonly key: ApiKeyRow } | { readonly ok: false; readonly why: string };

export class ApiKeys {
  private readonly lastTouch = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly store: RegistryStore,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  /** Looks like one of ours (cheap, no store access): lets auth pick the API-key path for a bearer value. */
  static isApiKey(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  async issue(request: {
    name: string;
    scopes: readonly ApiKeyScope[];
  }): Promise<{ apiKey: ApiKeyRow; secret: string }> {
    const id = randomBytes(6).toString('hex');
    const secretPart = randomBytes(32).toString('base64url');
    const apiKey = await this.store.insertApiKey({
      id,
      name: request.name,
      scopes: [...new Set(request.scopes)],
      secretHash: digest(secretPart),
      createdAt: this.now(),
    });
    return { apiKey, secret: `${PREFIX}${id}_${secretPart}` };
  }

  async verify(presented: string): Promise<ApiKeyCheck> {
    const match = KEY_PATTERN.exec(presented);
    if (match?.[1] === undefined || match[2] === undefined) return { ok: false, why: 'malformed API key' };
    const stored = await this.store.findApiKey(match[1]);
    // Hash even when the id is unknown, so timing does not tell which ids exist.
    const presentedHash = digest(match[2]);
    if (stored === undefined) return { ok: false, why: 'unknown or revoked API key' };
    const storedHash = Buffer.from(stored.secretHash);
    if (storedHash.length !== presentedHash.length || !timingSafeEqual(storedHash, presentedHash)) {
      return { ok: false, why: 'unknown or revoked API key' };
    }
    if (stored.revokedAt !== null) return { ok: false, why: 'unknown or revoked API key' };
    this.touch(stored.id);
    const { secretHash: _hash, ...key } = stored;
    return { ok: true, key };
  }

  list(): Promise<ApiKeyRow[]> {
    return this.store.listApiKeys();
  }

  async revoke(id: string): Promise<ApiKeyRow | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    return this.store.revokeApiKey(id, this.now());
  }

  private touch(id: string): void {
    const now = this.now();
    const last = this.lastTouch.get(id);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    if (this.lastTouch.size >= TOUCH_MEMO_MAX) this.lastTouch.clear();
    this.lastTouch.set(id, now);
    // Best effort: a failed hint write must not fail the request it rides on.
    this.store.touchApiKey(id, now).catch(() => undefined);
  }
}

function digest(secretPart: string): Buffer {
  return createHash('sha256').update(secretPart, 'utf8').digest();
}
