// A split replica's RateCounters: the supervisor's, over IPC, so every replica of a pool
// counts one client once.

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
