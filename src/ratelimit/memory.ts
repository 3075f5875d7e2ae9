// RateCounters in this process: the monolith's, the supervisor's for a node's replicas, and
// the fallback of a node whose shared counters (Redis) can't answer. Memory follows the keys
// seen in the last window, not the traffic ever seen.

import { LimiterCounters, rateLimiterFlexible } from './limiter-counters.ts';

export class MemoryRateCounters extends LimiterCounters {
  constructor() {
    super((_name, points, duration) => new (rateLimiterFlexible().RateLimiterMemory)({ points, duration }));
  }
}
