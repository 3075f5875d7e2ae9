// RedisLock against the machine's real Redis: the contract, one holder across nodes, and a
// Redis that is away (no lease is ever assumed, and no call hangs).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cutProxyFor } from '../../test/helpers/cut-proxy.ts';
import { until } from '../../test/helpers/wait.ts';
import { connectRedis, dropKeys, REDIS_URL, testPrefix } from '../../test/helpers/redis.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { lockContract } from './contract.ts';
import { RedisLock } from './redis.ts';

const prefix = testPrefix('lock');
const connections: RedisConnection[] = [];
after(async () => {
  await Promise.all(connections.map((redis) => redis.stop()));
  await dropKeys(prefix);
});

let fresh = 0;
async function node(keyPrefix = `${prefix}${fresh++}:`, url = REDIS_URL): Promise<RedisConnection> {
  const redis = await connectRedis({ keyPrefix, url, timeoutMs: 300 });
  connections.push(redis);
  return redis;
}

lockContract('RedisLock', async () => new RedisLock(await node()));

describe('RedisLock across nodes', { timeout: 10_000 }, () => {
  it('lets one node of many hold a name, whichever asks first', async () => {
    const shared = `${prefix}nodes:`;
    const locks = await Promise.all(Array.from({ length: 4 }, async () => new RedisLock(await node(shared))));
    const won = await Promise.all(locks.map((lock) => lock.tryAcquire('cron:stats.tick:2026-12-05T00:00:00Z', 10_000)));
    assert.equal(won.filter(Boolean).length, 1);
  });

  // A run that outlived its lease must not end the lease another node took since.
  it("never ends another node's lease on release", async () => {
    const shared = `${prefix}release:`;
    const a = new RedisLock(await node(shared));
    const b = new RedisLock(await node(shared));
    assert.equal(await a.tryAcquire('job:running', 50), true);
    await sleep(80);
    assert.equal(await b.tryAcquire('job:running', 10_000), true, 'A lease ended with its ttl');
    await a.release('job:running');
    assert.equal(await a.tryAcquire('job:running', 10_000), false, "B's lease outlived A's late release");
    await b.release('job:running');
    assert.equal(await a.tryAcquire('job:running', 10_000), true);
  });

  it('refuses (never assumes) a lease while Redis is cut off, at once, and works again after', async () => {
    const { proxy, url } = await cutProxyFor(REDIS_URL, 6379);
    const redis = await node(undefined, url);
    const lock = new RedisLock(redis);
    try {
      await proxy.cut();
      const started = performance.now();
      await assert.rejects(lock.tryAcquire('tick', 10_000));
      assert.ok(performance.now() - started < 400, 'refused within the timeout');
      await proxy.restore();
      await until(() => (redis.client.status === 'ready' ? true : undefined), 5000, 'Redis connected again');
      assert.equal(await lock.tryAcquire('tick', 10_000), true);
    } finally {
      await proxy.close();
    }
  });
});
