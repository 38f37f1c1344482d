/**
 * Test access to the local Redis: whether it answers, and a unique key prefix per suite so suites
 * running at the same time never share keys. Suites skip with a visible reason when Redis is missing,
 * except under CI, where they must fail instead.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_TEST_URL = process.env['SEALSTREAM_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export type RedisAvailability = { available: true } | { available: false; reason: string };

export async function redisAvailability(): Promise<RedisAvailability> {
  const redis = new Redis(REDIS_TEST_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return { available: true };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { available: false, reason: `Redis unreachable (${typeof code === 'string' ? code : 'no answer'})` };
  } finally {
    redis.disconnect();
  }
}

export function failIfRedisRequired(availability: RedisAvailability): void {
  if (!availability.available && process.env['CI'] === 'true')
    throw new Error(`${availability.reason}; CI=true requires it`);
}

export function uniqueKeyPrefix(): string {
  return `ss-test-${randomBytes(5).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
