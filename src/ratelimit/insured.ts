// Rate counts that survive their shared store going away. Each call goes to the shared
// counters (Redis); one that fails (Redis down, or slower than its timeout) is answered by
// this node's own counters instead, so limits still hold per node: a client may get a few
// times its limit while Redis is away, never an unlimited login, and no request waits on a
// server that is gone. rate-limiter-flexible has an insurance limiter of its own; this layer
// exists so the outage is logged (once) and the fallback can be the node's supervisor.

import type { Count, RateCounters } from './types.ts';

export interface CallHealth {
  failed(error: unknown): void;
  succeeded(): void;
}

export class InsuredRateCounters implements RateCounters {
  readonly #shared: RateCounters;
  readonly #local: RateCounters;
  readonly #health: CallHealth;

  constructor(shared: RateCounters, local: RateCounters, health: CallHealth) {
    this.#shared = shared;
    this.#local = local;
    this.#health = health;
  }

  hit(key: string, points: number, durationMs: number): Promise<Count> {
    return this.#either((counters) => counters.hit(key, points, durationMs));
  }

  blockedFor(key: string): Promise<number> {
    return this.#either((counters) => counters.blockedFor(key));
  }

  block(key: string, ms: number): Promise<void> {
    return this.#either((counters) => counters.block(key, ms));
  }

  reset(key: string, durationMs: number): Promise<void> {
    return this.#either((counters) => counters.reset(key, durationMs));
  }

  async #either<T>(call: (counters: RateCounters) => Promise<T>): Promise<T> {
    try {
      const result = await call(this.#shared);
      this.#health.succeeded();
      return result;
    } catch (error) {
      this.#health.failed(error);
      return call(this.#local);
    }
  }
}
