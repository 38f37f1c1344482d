/**
 * Single-use tickets (export download links) shared by every hub: issued on one api node, redeemed once
 * on any. Three keys per cluster: a hash of ticket digest -> "owner\n" + payload, a sorted set of all
 * digests by expiry, and one sorted set per owner by expiry. Each script sweeps expired entries first
 * and re-arms every key's TTL, so all of it expires a ticket lifetime after the last issue. Taking a
 * ticket is one script (HGET + HDEL), so two hubs can never both redeem it. Memory bound: at most
 * `maxOutstanding` live tickets (a few hundred bytes each) plus the owners' sets.
 */
import type { SharedTicketStore, TicketBounds } from '../pipeline/shared-state-ports.js';
import type { RedisState } from './redis-state.js';

const DATA = 'tickets:data';
const ALL = 'tickets:all';
const ownerKey = (owner: string): string => `tickets:owner:${owner}`;

// KEYS: data, all, owner. ARGV: digest, value, ttlMs, nowMs, maxPerOwner, maxOutstanding.
const PUT = `
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, d in ipairs(expired) do redis.call('HDEL', KEYS[1], d) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5]) + 1
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, excess - 1)
  for _, d in ipairs(oldest) do
    redis.call('HDEL', KEYS[1], d)
    redis.call('ZREM', KEYS[2], d)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1)
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1
`;

// KEYS: data, all. ARGV: digest, nowMs. The value when live, else false; taken either way.
const TAKE = `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) <= tonumber(ARGV[2]) then return false end
return value
`;

export class RedisTicketStore implements SharedTicketStore {
  constructor(
    private readonly state: RedisState,
    private readonly now: () => number = Date.now,
  ) {}

  async put(digest: string, owner: string, payload: string, ttlMs: number, bounds: TicketBounds): Promise<boolean> {
    const value = `${owner}\n${payload}`;
    const stored = await this.state.run((redis) =>
      redis.eval(
        PUT,
        3,
        DATA,
        ALL,
        ownerKey(owner),
        digest,
        value,
        String(ttlMs),
        String(this.now()),
        String(bounds.maxPerOwner),
        String(bounds.maxOutstanding),
      ),
    );
    return stored === 1;
  }

  async take(digest: string): Promise<{ readonly owner: string; readonly payload: string } | undefined> {
    const value = await this.state.run((redis) => redis.eval(TAKE, 2, DATA, ALL, digest, String(this.now())));
    if (typeof value !== 'string') return undefined;
    const split = value.indexOf('\n');
    return { owner: value.slice(0, split), payload: value.slice(split + 1) };
  }
}
