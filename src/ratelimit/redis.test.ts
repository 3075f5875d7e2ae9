// RedisRateCounters against the machine's real Redis: the contract, counts shared by nodes,
// and what a node does while Redis is cut off (its own counts, at once, and one log line).

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { cutProxyFor } from '../../test/helpers/cut-proxy.ts';
import { until } from '../../test/helpers/wait.ts';
import { connectRedis, dropKeys, REDIS_URL, testPrefix } from '../../test/helpers/redis.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { rateCountersContract } from './contract.ts';
import { InsuredRateCounters } from './insured.ts';
import { MemoryRateCounters } from './memory.ts';
import { RedisRateCounters } from './redis.ts';

const MINUTE = 60_000;
const prefix = testPrefix('rate');
const connections: RedisConnection[] = [];
after(async () => {
  await Promise.all(connections.map((redis) => redis.stop()));
  await dropKeys(prefix);
});

let fresh = 0;
async function node(keyPrefix = `${prefix}${fresh++}:`, options: { url?: string; log?: Log; timeoutMs?: number } = {}) {
  const redis = await connectRedis({ keyPrefix, ...options });
  connections.push(redis);
  return redis;
}

rateCountersContract('RedisRateCounters', async () => new RedisRateCounters(await node()));
rateCountersContract('RedisRateCounters insured by MemoryRateCounters', async () => {
  const redis = await node();
  return new InsuredRateCounters(new RedisRateCounters(redis), new MemoryRateCounters(), redis);
});

interface Log {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

function recordingLog(): { lines: string[]; log: Log } {
  const lines: string[] = [];
  const push = (_: object, msg: string) => void lines.push(msg);
  return { lines, log: { error: push, info: push } };
}

describe('RedisRateCounters across nodes', { timeout: 20_000 }, () => {
  it('gives a client one count whichever node it reaches', async () => {
    const shared = `${prefix}nodes:`;
    const a = new RedisRateCounters(await node(shared));
    const b = new RedisRateCounters(await node(shared));
    assert.equal((await a.hit('ip:203.0.113.9', 1, MINUTE)).consumed, 1);
    assert.equal((await b.hit('ip:203.0.113.9', 1, MINUTE)).consumed, 2);
    await b.block('user:alice', 10_000);
    assert.ok((await a.blockedFor('user:alice')) > 0, 'a block made on B holds on A');
  });

  // A login that succeeds on a node whose process never counted the failures must still clear them.
  it('forgets on one node a count only another node made', async () => {
    const shared = `${prefix}reset:`;
    const a = new RedisRateCounters(await node(shared));
    const b = new RedisRateCounters(await node(shared));
    await a.hit('user:bob:fails', 4, 15 * MINUTE);
    await b.reset('user:bob:fails', 15 * MINUTE);
    assert.equal((await a.hit('user:bob:fails', 1, 15 * MINUTE)).consumed, 1);
  });
});

describe('RedisRateCounters when Redis is away', { timeout: 20_000 }, () => {
  it('counts on the node at once while Redis is cut off, says so once, and goes back to Redis', async () => {
    const { proxy, url } = await cutProxyFor(REDIS_URL, 6379);
    const { lines, log } = recordingLog();
    const redis = await node(undefined, { url: url, log });
    const counters = new InsuredRateCounters(new RedisRateCounters(redis), new MemoryRateCounters(), redis);
    try {
      assert.equal((await counters.hit('client', 1, MINUTE)).consumed, 1);
      await proxy.cut();
      for (let n = 1; n <= 5; n++) {
        const started = performance.now();
        // Never unlimited: the node's own counts go on rising.
        assert.equal((await counters.hit('client', 1, MINUTE)).consumed, n);
        assert.ok(performance.now() - started < 300, `hit ${n} answered at once, not after a timeout`);
      }
      await counters.block('login', 5000);
      assert.ok((await counters.blockedFor('login')) > 0, 'a block while Redis is away still holds');
      const unreachable = lines.filter((line) => line.startsWith('Redis unreachable'));
      assert.ok(unreachable.length >= 1 && unreachable.length <= 2, lines.join('\n'));

      await proxy.restore();
      await until(() => (redis.client.status === 'ready' ? true : undefined), 5000, 'Redis connected again');
      assert.equal((await counters.hit('client', 1, MINUTE)).consumed, 2, 'the count kept in Redis, where it left off');
      assert.equal(lines.at(-1), 'Redis reachable again');
    } finally {
      await proxy.close();
    }
  });

  it('gives up on a Redis that stops answering within the timeout, counts on the node, and says why', async () => {
    const { proxy, url } = await cutProxyFor(REDIS_URL, 6379);
    const { lines, log } = recordingLog();
    const redis = await node(undefined, { url: url, log, timeoutMs: 200 });
    const counters = new InsuredRateCounters(new RedisRateCounters(redis), new MemoryRateCounters(), redis);
    try {
      assert.equal((await counters.hit('client', 1, MINUTE)).consumed, 1);
      proxy.stall();
      const started = performance.now();
      assert.equal(
        (await counters.hit('client', 1, MINUTE)).consumed,
        1,
        "counted on the node: Redis's count is out of reach",
      );
      const waited = performance.now() - started;
      assert.ok(waited >= 150 && waited < 1000, `gave up after ${Math.round(waited)} ms, the timeout being 200 ms`);
      assert.match(lines.join('\n'), /^Redis unreachable/m);
      proxy.resume();
      await until(() => (redis.client.status === 'ready' ? true : undefined), 5000, 'Redis connected again');
      assert.equal(
        (await counters.hit('client', 1, MINUTE)).consumed,
        3,
        'the stalled hit reached Redis late, and counts',
      );
    } finally {
      await proxy.close();
    }
  });

  it('refuses to start on a Redis that accepts connections and never answers', async () => {
    const silent = createServer(() => {});
    const held = new Set<Socket>();
    silent.on('connection', (socket) => held.add(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const started = performance.now();
    const refused = await node(undefined, { url: `redis://:hunter2@127.0.0.1:${port}` }).catch(
      (error: unknown) => error,
    );
    assert.ok(performance.now() - started < 3000, 'start() gave up in time');
    assert.equal((refused as { code?: string }).code, 'CLEAVE_REDIS_UNAVAILABLE');
    assert.match((refused as Error).message, /^cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: /);
    assert.doesNotMatch((refused as Error).message, /hunter2/);
    for (const socket of held) socket.destroy();
    silent.close();
  });
});
