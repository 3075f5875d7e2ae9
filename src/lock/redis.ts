// The Lock on the Redis every node shares: a lease is one key set only if absent, expiring
// with its ttl, so one process across all nodes holds a name (one cron run per tick).
//
// A lease carries this process's token, and release ends it only while it is still ours: a
// run that outlived its ttl must not end the lease another node took since (SET NX PX and a
// compare-and-delete script, the single-instance pattern of Redis's own documentation).

import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis/connection.ts';
import { checkTtl } from './ttl.ts';
import type { Lock } from './types.ts';

const RELEASE_IF_OURS = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export class RedisLock implements Lock {
  readonly #redis: RedisConnection;
  readonly #token = randomUUID();

  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  /** Redis unreachable: rejects (within the connection's timeout); no lease is ever assumed. */
  async tryAcquire(name: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const answer = await this.#call(() =>
      this.#redis.client.set(keyOf(name), this.#token, 'PX', Math.ceil(ttlMs), 'NX'),
    );
    return answer === 'OK';
  }

  async release(name: string): Promise<void> {
    await this.#call(() => this.#redis.client.eval(RELEASE_IF_OURS, 1, keyOf(name), this.#token));
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      const result = await command();
      this.#redis.succeeded();
      return result;
    } catch (error) {
      this.#redis.failed(error);
      throw error;
    }
  }
}

function keyOf(name: string): string {
  return `lock:${name}`;
}
