// RateCounters in this process, on rate-limiter-flexible's memory limiter: fixed windows that
// start with a key's first point and expire on their own, so memory follows the keys seen in
// the last window, not the traffic ever seen.

import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Count, RateCounters } from './types.ts';

export class MemoryRateCounters implements RateCounters {
  /** One limiter per window length; limits are compared by the caller, so none ever refuses. */
  readonly #windows = new Map<number, RateLimiterMemory>();
  readonly #blocks = new RateLimiterMemory({ points: 1, duration: 1 });

  async hit(key: string, points: number, durationMs: number): Promise<Count> {
    let window = this.#windows.get(durationMs);
    if (!window) {
      window = new RateLimiterMemory({
        points: Number.MAX_SAFE_INTEGER,
        duration: Math.max(1, Math.ceil(durationMs / 1000)),
      });
      this.#windows.set(durationMs, window);
    }
    const result: RateLimiterRes = await window.consume(key, points);
    return { consumed: result.consumedPoints, msBeforeNext: result.msBeforeNext };
  }

  async blockedFor(key: string): Promise<number> {
    const result = await this.#blocks.get(key);
    return result && result.consumedPoints > 1 ? result.msBeforeNext : 0;
  }

  async block(key: string, ms: number): Promise<void> {
    await this.#blocks.block(key, Math.max(1, Math.ceil(ms / 1000)));
  }

  /** From every window: there are a handful (one per limit length), and no index to keep. */
  async reset(key: string): Promise<void> {
    await Promise.all([...this.#windows.values()].map((window) => window.delete(key)));
  }
}
