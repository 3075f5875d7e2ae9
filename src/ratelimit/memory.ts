// RateCounters in this process: the monolith's, the supervisor's for a node's replicas, and
// the fallback of a node whose shared counters (Redis) can't answer. Memory follows the keys
// seen in the last window, not the traffic ever seen.

import { RateLimiterMemory } from 'rate-limiter-flexible';
import { LimiterCounters } from './limiter-counters.ts';

export class MemoryRateCounters extends LimiterCounters {
  constructor() {
    super((_name, points, duration) => new RateLimiterMemory({ points, duration }));
  }
}
