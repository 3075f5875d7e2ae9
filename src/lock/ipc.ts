// The Lock across the IPC channel, both ends: in a split-mode replica leases live in the
// supervisor, so one replica in the whole app holds a name at a time (what makes a cron tick
// run once).

import type { RpcHandlers } from '../ipc/handlers.ts';
import type { RpcClient } from '../ipc/rpc-client.ts';
import { checkTtl } from './ttl.ts';
import type { Lock } from './types.ts';

export class IpcLock implements Lock {
  readonly #rpc: RpcClient;

  /** `rpc` is the replica's one client for its channel; whoever made it closes it. */
  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  async tryAcquire(name: string, ttlMs: number): Promise<boolean> {
    // Checked before crossing: a RangeError from the supervisor would come back as an internal error.
    checkTtl(ttlMs);
    return this.#rpc.call('lock.tryAcquire', name, ttlMs);
  }

  /** Like MemoryLock, the port names no owner: this releases the name whoever holds it. */
  release(name: string): Promise<void> {
    return this.#rpc.call('lock.release', name);
  }
}

/** The supervisor's end: `lock` holds every replica's leases. */
export function serveLock(lock: Lock): RpcHandlers {
  return {
    'lock.tryAcquire': (_caller, name, ttlMs) => lock.tryAcquire(name, ttlMs),
    'lock.release': (_caller, name) => lock.release(name),
  };
}
