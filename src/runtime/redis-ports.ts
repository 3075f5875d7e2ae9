// What a process takes from the Redis every node shares, when CLEAVE_REDIS_URL names one: its
// connection and its rate counters. Apart from ports.ts so the gateway, which needs only the
// counters, loads no store or call machinery.

import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { InsuredRateCounters } from '../ratelimit/insured.ts';
import { RedisRateCounters } from '../ratelimit/redis.ts';
import type { RateCounters } from '../ratelimit/types.ts';
import { RedisConnection } from '../redis/connection.ts';

/** The Redis CLEAVE_REDIS_URL names, under the app's own keys; undefined when none is set. */
export function redisOf(config: RuntimeConfig, log: Logger, app: string): RedisConnection | undefined {
  if (config.CLEAVE_REDIS_URL === undefined) return undefined;
  return new RedisConnection({
    url: config.CLEAVE_REDIS_URL,
    timeoutMs: config.CLEAVE_REDIS_TIMEOUT_MS,
    keyPrefix: `cleave:${app}:`,
    log,
  });
}

/**
 * Rate counters every node shares when there is a Redis, with this node's own (`local`) as
 * the fallback while Redis can't answer; without one, this node's.
 */
export function rateCountersOf(redis: RedisConnection | undefined, local: RateCounters): RateCounters {
  return redis ? new InsuredRateCounters(new RedisRateCounters(redis), local, redis) : local;
}
