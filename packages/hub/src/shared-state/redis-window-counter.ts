/**
 * Fixed-window counters shared by every hub (the API's rate limits, the API-key failure budget): one
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

  async read(key: string): Promise<WindowCount> {
    const [count, ttl] = (await this.state.run((redis) => redis.eval(READ, 1, `${this.kind}:${key}`))) as Reply;
    return { count, resetInMs: ttl };
  }
}
