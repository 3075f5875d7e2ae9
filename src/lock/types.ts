// The Lock port: a lease that makes one holder across the app do a thing
// (a cron tick). In-process today; supervisor, NATS KV and Redis adapters later.

export interface Lock {
  /** True when this caller now holds `name` until `ttlMs` passes or release(). */
  tryAcquire(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
}
