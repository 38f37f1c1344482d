/**
 * Cluster heartbeats against the local Redis: a node's beat is listed until it expires or is forgotten,
 * listings see only their own key prefix, and a damaged key is left out instead of failing the view.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHeartbeats, HEARTBEAT_TTL_MS } from '../../src/shared-state/cluster-heartbeats.js';
import { RedisState } from '../../src/shared-state/redis-state.js';
import { dropKeys, failIfRedisRequired, REDIS_TEST_URL, redisAvailability, uniqueKeyPrefix } from '../support/redis.js';

const redis = await redisAvailability();
if (!redis.available) console.warn(`cluster heartbeat suite skipped: ${redis.reason}`);

describe.skipIf(!redis.available)('cluster heartbeats in Redis', () => {
  const prefix = uniqueKeyPrefix();
  const other = uniqueKeyPrefix();
  let state: RedisState;
  let otherState: RedisState;

  beforeAll(async () => {
    failIfRedisRequired(redis);
    state = new RedisState({ url: REDIS_TEST_URL, keyPrefix: prefix, commandTimeoutMs: 1_000 });
    otherState = new RedisState({ url: REDIS_TEST_URL, keyPrefix: other, commandTimeoutMs: 1_000 });
    await Promise.all([state.connect(), otherState.connect()]);
  });

  afterAll(async () => {
    await state?.close();
    await otherState?.close();
    await dropKeys(prefix);
    await dropKeys(other);
  });

  it('lists live beats by instance, forgets a stopped node, ignores other prefixes and damaged keys', async () => {
    const beats = new ClusterHeartbeats(state);
    const now = Date.now();
    await beats.beat({ instance: 'gw-1', roles: ['gateway'], startedAt: now, heartbeatAt: now, acceptedPerSec: 12.5 });
    await beats.beat({ instance: 'api-1', roles: ['api'], startedAt: now, heartbeatAt: now, acceptedPerSec: 0 });
    await new ClusterHeartbeats(otherState).beat({
      instance: 'elsewhere',
      roles: ['writer'],
      startedAt: now,
      heartbeatAt: now,
      acceptedPerSec: 0,
    });
    await state.redis.set('node:broken', '{not json');
    const listed = await beats.list();
    expect(listed.map((node) => node.instance)).toEqual(['api-1', 'gw-1']);
    expect(listed[1]).toMatchObject({ roles: ['gateway'], acceptedPerSec: 12.5 });
    expect(await state.redis.pttl('node:gw-1')).toBeLessThanOrEqual(HEARTBEAT_TTL_MS);
    await beats.forget('gw-1');
    expect((await beats.list()).map((node) => node.instance)).toEqual(['api-1']);
  });
});
