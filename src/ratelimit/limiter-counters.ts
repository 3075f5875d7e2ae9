// RateCounters on rate-limiter-flexible: fixed windows that start with a key's first point and
// expire on their own, one limiter per window length, none of which ever refuses (the caller
// compares counts with its limits), and one limiter for blocks. Where the counts live is the
// limiter kind a subclass makes: this process's memory, or the Redis every node shares.

import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { loadOnUse } from '../shared/load-on-use.ts';
import type { Count, RateCounters } from './types.ts';

/** The library, loaded by the process that counts (the gateway, a monolith), not by every replica. */
export const rateLimiterFlexible = loadOnUse<typeof import('rate-limiter-flexible')>('rate-limiter-flexible');

/** `name` tells limiters of one kind apart (a key prefix in a shared store). */
export type LimiterFactory = (name: string, points: number, durationSeconds: number) => RateLimiterAbstract;

export class LimiterCounters implements RateCounters {
  readonly #make: LimiterFactory;
  readonly #windows = new Map<number, RateLimiterAbstract>();
  readonly #blocks: RateLimiterAbstract;

  constructor(make: LimiterFactory) {
    this.#make = make;
    this.#blocks = make('block', 1, 1);
  }

  async hit(key: string, points: number, durationMs: number): Promise<Count> {
    const result = await this.#window(durationMs).consume(key, points);
    return { consumed: result.consumedPoints, msBeforeNext: result.msBeforeNext };
  }

  async blockedFor(key: string): Promise<number> {
    const result = await this.#blocks.get(key);
    return result && result.consumedPoints > 1 ? result.msBeforeNext : 0;
  }

  async block(key: string, ms: number): Promise<void> {
    await this.#blocks.block(key, Math.max(1, Math.ceil(ms / 1000)));
  }

  async reset(key: string, durationMs: number): Promise<void> {
    await this.#window(durationMs).delete(key);
  }

  #window(durationMs: number): RateLimiterAbstract {
    let window = this.#windows.get(durationMs);
    if (!window) {
      window = this.#make(`w${durationMs}`, Number.MAX_SAFE_INTEGER, Math.max(1, Math.ceil(durationMs / 1000)));
      this.#windows.set(durationMs, window);
    }
    return window;
  }
}
