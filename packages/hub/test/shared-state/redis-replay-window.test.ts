/**
 * The shared replay window against the local Redis: one hub of several sees an id first, the window
 * expires, and a Redis that is away fails closed with a typed error instead of answering "fresh".
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayWindow } from '../../src/shared-state/redis-replay-window.js';
import { RedisState, StateUnavailableError } from '../../src/shared-state/redis-state.js';
import { dropKeys, failIfRedisRequired, REDIS_TEST_URL, redisAvailability, uniqueKeyPrefix } from '../support/redis.js';

const redis = await redisAvailability();
if (!redis.available) console.warn(`shared-state suite skipped: ${redis.reason}`);

describe.skipIf(!redis.available)('RedisReplayWindow', () => {
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

  it('across two hubs, each id is a first sighting exactly once', async () => {
    const a = new RedisReplayWindow(await hub(), 'iv', 60_000);
    const b = new RedisReplayWindow(await hub(), 'iv', 60_000);
    const ids = Array.from({ length: 500 }, (_, i) => `id-${i}`);
    const [fromA, fromB] = await Promise.all([a.firstSightings(ids), b.firstSightings(ids)]);
    ids.forEach((_, i) => expect(Number(fromA[i]) + Number(fromB[i])).toBe(1));
    expect(await a.firstSightings(['id-1', 'new-1'])).toEqual([false, true]);
  });

  it('kinds do not collide, ids expire after the window, and forgotten ids are fresh again', async () => {
    const state = await hub();
    const short = new RedisReplayWindow(state, 'short', 150);
    const other = new RedisReplayWindow(state, 'other', 60_000);
    expect(await short.firstSightings(['x'])).toEqual([true]);
    expect(await other.firstSightings(['x'])).toEqual([true]);
    expect(await short.firstSightings(['x'])).toEqual([false]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await short.firstSightings(['x'])).toEqual([true]);
    await other.forget(['x']);
    expect(await other.firstSightings(['x'])).toEqual([true]);
  });

  it('fails closed with StateUnavailableError when Redis does not answer', async () => {
    // A listener that accepts and never answers: a hung Redis, not a refused connection.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const hung = new RedisState({ url: `redis://127.0.0.1:${port}`, keyPrefix: prefix, commandTimeoutMs: 300 });
    const window = new RedisReplayWindow(hung, 'iv', 60_000);
    await expect(window.firstSightings(['y'])).rejects.toBeInstanceOf(StateUnavailableError);
    const down = new RedisState({ url: 'redis://127.0.0.1:1', keyPrefix: prefix, commandTimeoutMs: 300 });
    await expect(down.connect()).rejects.toBeDefined();
    await expect(new RedisReplayWindow(down, 'iv', 60_000).firstSightings(['y'])).rejects.toBeInstanceOf(
      StateUnavailableError,
    );
    await hung.close();
    await down.close();
    silent.close();
  });
});
