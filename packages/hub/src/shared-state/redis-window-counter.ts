/**
 * Fixed-window counters shared by every hub (the API's rate limits, the API-key failure budget, the
 * per-device limits of HTTP ingest): one
 * atomic script per hit adds to the key's count and starts its window (PEXPIRE) on the first hit, so
 * the count is the sum over all hubs and every key expires with its window. Memory bound: one small
 * key per limited subject (account, API key, address) and window.
 */
import type { SharedWindowCounter, WindowCount } from '../pipeline/shared-state-ports.js';
import type { RedisState } from './redis-state.js';

const HIT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

const READ = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(count), ttl}
`;

// ARGV: windowMs, cost, max. Counts only when the result stays within max.
const TAKE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[2])
if count + cost > tonumber(ARGV[3]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[1]) end
  return {0, count, ttl}
end
count = redis.call('INCRBY', KEYS[1], cost)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {1, count, ttl}
`;

type Reply = [number, number];

export class RedisWindowCounter implements SharedWindowCounter {
  constructor(
    private readonly state: RedisState,
    /** Names the counters (e.g. "rl", "auth-fail"), so kinds never collide. */
    private readonly kind: string,
  ) {}

  async hit(key: string, windowMs: number, by = 1): Promise<WindowCount> {
    const [count, ttl] = (await this.state.run((redis) =>
      redis.eval(HIT, 1, `${this.kind}:${key}`, String(Math.ceil(windowMs)), String(by)),
    )) as Reply;
    return { count, resetInMs: ttl };
  }

  async take(key: string, windowMs: number, cost: number, max: number): Promise<WindowCount & { allowed: boolean }> {
    const [allowed, count, ttl] = (await this.state.run((redis) =>
      redis.eval(TAKE, 1, `${this.kind}:${key}`, String(Math.ceil(windowMs)), String(cost), String(max)),
    )) as [number, number, number];
    return { allowed: allowed === 1, count, resetInMs: ttl };
  }

  async read(key: string): Promise<WindowCount> {
    const [count, ttl] = (await this.state.run((redis) => redis.eval(READ, 1, `${this.kind}:${key}`))) as Reply;
    return { count, resetInMs: ttl };
  }
}
