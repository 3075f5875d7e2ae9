// RateCounters on the Redis every node shares (rate-limiter-flexible's Redis limiter, one
// atomic script per hit): a client meets one count however many nodes it reaches.

import type { RedisConnection } from '../redis/connection.ts';
import { LimiterCounters, rateLimiterFlexible } from './limiter-counters.ts';

export class RedisRateCounters extends LimiterCounters {
  constructor(redis: RedisConnection) {
    super(
      (name, points, duration) =>
        new (rateLimiterFlexible().RateLimiterRedis)({
          storeClient: redis.client,
          keyPrefix: `rate:${name}`,
          points,
          duration,
          // Not connected: fail at once, so the caller falls back instead of waiting.
          rejectIfRedisNotReady: true,
        }),
    );
  }
}
