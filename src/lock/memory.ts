// The Lock port inside one process: enough for a monolith, and the reference
// every shared adapter (supervisor, NATS KV, Redis) must behave like.

import { checkTtl } from './ttl.ts';
import type { Lock } from './types.ts';

export interface MemoryLockOptions {
  /** Milliseconds since the epoch; injected so tests move time by hand. @default Date.now */
  now?: () => number;
}

/** Below this many leases, expired ones are not worth a sweep. */
const MIN_SWEEP_SIZE = 64;

export class MemoryLock implements Lock {
  readonly #now: () => number;
  /** Lease name → the instant it expires. */
  readonly #leases = new Map<string, number>();
  #sweepAtSize = MIN_SWEEP_SIZE;

  constructor(options: MemoryLockOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Not re-entrant: the port names no owner, so a second call for a held name
   * answers false even from the caller that holds it.
   */
  async tryAcquire(name: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const now = this.#now();
    this.#sweepIfLarge(now);
    const expiresAt = this.#leases.get(name);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#leases.set(name, now + ttlMs);
    return true;
  }

  async release(name: string): Promise<void> {
    this.#leases.delete(name);
  }

  /** Leases kept in memory, expired ones not yet swept included; for tests and diagnostics. */
  get size(): number {
    return this.#leases.size;
  }

  // Cron takes one lease per job per tick and never releases it (a late replica
  // must still find it taken), so expired leases pile up unless swept. Sweeping
  // only when the map has doubled keeps tryAcquire O(1) amortised, with no timer
  // to leak.
  #sweepIfLarge(now: number): void {
    if (this.#leases.size < this.#sweepAtSize) return;
    this.#sweep(now);
    this.#sweepAtSize = Math.max(MIN_SWEEP_SIZE, this.#leases.size * 2);
  }

  #sweep(now: number): void {
    for (const [name, expiresAt] of this.#leases) {
      if (expiresAt <= now) this.#leases.delete(name);
    }
  }
}
