// Connections to the machine's real Redis (CI starts it), each under a key prefix of its own,
// so tests running at once never count each other's keys; dropKeys() removes what they wrote.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnection, type RedisConnectionOptions } from '../../src/redis/connection.ts';

/** The server tests use; CLEAVE_TEST_REDIS_URL points them elsewhere. */
export const REDIS_URL = process.env.CLEAVE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique prefix: connections made with the same one play nodes of one app. */
export function testPrefix(label: string): string {
  return `cleave-test:${label}:${randomUUID()}:`;
}

export async function connectRedis(
  options: Partial<RedisConnectionOptions> & { keyPrefix: string },
): Promise<RedisConnection> {
  const redis = new RedisConnection({ url: REDIS_URL, timeoutMs: 500, ...options });
  await redis.start();
  return redis;
}

/** Deletes every key under `prefix` (with a client of its own: a prefixed one would prefix them again). */
export async function dropKeys(prefix: string): Promise<void> {
  const plain = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    await plain.connect();
    let cursor = '0';
    do {
      const [next, keys] = await plain.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await plain.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    plain.disconnect();
  }
}
