// The counters rate limits keep, behind a port: in this process (the monolith, and the
// supervisor's own) or at the supervisor over IPC (split replicas), so a client hitting
// several replicas of a pool meets one count, not one per replica.

export interface Count {
  /** Points in the current window, or past the limit while a key is blocked. */
  consumed: number;
  /** Until the window (or the block) ends. */
  msBeforeNext: number;
}

export interface RateCounters {
  /** Adds `points` to `key`'s window of `durationMs` (which starts with its first point). */
  hit(key: string, points: number, durationMs: number): Promise<Count>;
  /** How long `key` is still blocked; 0 when it isn't. */
  blockedFor(key: string): Promise<number>;
  block(key: string, ms: number): Promise<void>;
  /**
   * Forgets `key`'s count in its window of `durationMs` (a successful login resets its
   * username's failures). Named by its length, as hit() names it: a process that never hit
   * the key (another node's) must still find the count to forget.
   */
  reset(key: string, durationMs: number): Promise<void>;
}
