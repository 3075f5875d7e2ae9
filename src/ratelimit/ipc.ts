// RateCounters across the IPC channel, both ends: a split replica's counters are the
// supervisor's, so every replica of a pool counts one client once.

import type { RpcHandlers } from '../ipc/handlers.ts';
import type { RpcClient } from '../ipc/rpc-client.ts';
import type { Count, RateCounters } from './types.ts';

export class IpcRateCounters implements RateCounters {
  readonly #rpc: RpcClient;

  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  hit(key: string, points: number, durationMs: number): Promise<Count> {
    return this.#rpc.call('rate.hit', key, points, durationMs);
  }

  blockedFor(key: string): Promise<number> {
    return this.#rpc.call('rate.blockedFor', key);
  }

  block(key: string, ms: number): Promise<void> {
    return this.#rpc.call('rate.block', key, ms);
  }

  reset(key: string, durationMs: number): Promise<void> {
    return this.#rpc.call('rate.reset', key, durationMs);
  }
}

/** The supervisor's end: `counters` count for every replica and the gateway. */
export function serveRateCounters(counters: RateCounters): RpcHandlers {
  return {
    'rate.hit': (_caller, key, points, durationMs) => counters.hit(key, points, durationMs),
    'rate.blockedFor': (_caller, key) => counters.blockedFor(key),
    'rate.block': (_caller, key, ms) => counters.block(key, ms),
    'rate.reset': (_caller, key, durationMs) => counters.reset(key, durationMs),
  };
}
