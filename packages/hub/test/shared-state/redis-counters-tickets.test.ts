/**
 * The Redis counters and ticket store against the local Redis: counts add up across hubs and expire with
 * their window, a conditional take never passes its bound, and tickets are single-use across hubs and
 * bounded per owner and in all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisState } from '../../src/shared-state/redis-state.js';
import { RedisTicketStore } from '../../src/shared-state/redis-ticket-store.js';
import { RedisWindowCounter } from '../../src/shared-state/redis-window-counter.js';
import { dropKeys, failIfRedisRequired, REDIS_TEST_URL, redisAvailability, uniqueKeyPrefix } from '../support/redis.js';

const redis = await redisAvailability();
if (!redis.available) console.warn(`shared counters suite skipped: ${redis.reason}`);

describe.skipIf(!redis.available)('RedisWindowCounter and RedisTicketStore', () => {
  const prefix = uniqueKeyPrefix();
  const states: RedisState[] = [];
  async function hub(): Promise<RedisState> {
    const state = new RedisState({ url: REDIS_TEST_URL, keyPrefix: prefix, commandTimeoutMs: 1_000 });
    await state.connect();
    states.push(state);
    return state;
  }

  beforeAll(() => failIfRedisRequired(redis));
  afterAll(async () => {
    for (const state of states) await state.close();
    await dropKeys(prefix);
  });

  it('counts across hubs in one window that expires', async () => {
    const a = new RedisWindowCounter(await hub(), 'rl');
    const b = new RedisWindowCounter(await hub(), 'rl');
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).hit('k', 200)));
    expect((await b.read('k')).count).toBe(10);
    expect((await a.read('k')).resetInMs).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await a.read('k')).toEqual({ count: 0, resetInMs: 0 });
  });

  it('a conditional take never goes past its bound, however many hubs race', async () => {
    const counters = [new RedisWindowCounter(await hub(), 'rl'), new RedisWindowCounter(await hub(), 'rl')];
    const taken = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (counters[i % 2] as RedisWindowCounter).take('t', 60_000, 1, 7)),
    );
    expect(taken.filter((one) => one.allowed)).toHaveLength(7);
    expect((await counters[0]?.read('t'))?.count).toBe(7);
  });

  it("a ticket is redeemed once, on any hub; bounds evict the owner's oldest and refuse beyond the total", async () => {
    const a = new RedisTicketStore(await hub());
    const b = new RedisTicketStore(await hub());
    const bounds = { maxPerOwner: 2, maxOutstanding: 3 };
    expect(await a.put('d1', 'u1', '{"x":1}', 60_000, bounds)).toBe(true);
    const [first, second] = await Promise.all([b.take('d1'), a.take('d1')]);
    expect([first, second].filter((held) => held !== undefined)).toEqual([{ owner: 'u1', payload: '{"x":1}' }]);

    expect(await a.put('o1', 'u2', 'p1', 60_000, bounds)).toBe(true);
    expect(await a.put('o2', 'u2', 'p2', 60_000, bounds)).toBe(true);
    expect(await b.put('o3', 'u2', 'p3', 60_000, bounds)).toBe(true); // evicts o1
    expect(await b.take('o1')).toBeUndefined();
    expect(await a.put('x1', 'u3', 'q', 60_000, bounds)).toBe(true);
    expect(await a.put('x2', 'u4', 'q', 60_000, bounds)).toBe(false); // 3 outstanding in all
    expect(await a.take('o3')).toEqual({ owner: 'u2', payload: 'p3' });

    const short = new RedisTicketStore(await hub());
    expect(await short.put('s1', 'u5', 'p', 100, { maxPerOwner: 8, maxOutstanding: 100 })).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await short.take('s1')).toBeUndefined();
  });
});
