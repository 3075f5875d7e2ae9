// The Lock port: a lease that makes one holder across the app do a thing (a cron tick). In
// this process (memory), at the supervisor for a node's replicas (IPC), or on the Redis every
// node shares.

export interface Lock {
  /** True when this caller now holds `name` until `ttlMs` passes or release(). */
  tryAcquire(name: string, ttlMs: number): Promise<boolean>;
  /**
   * Ends the lease on `name`. A name nobody holds is no error. The memory and IPC adapters
   * end it whoever holds it; Redis's ends only this process's own lease, so a run that
   * outlived its ttl never ends the lease another node took since.
   */
  release(name: string): Promise<void>;
}
