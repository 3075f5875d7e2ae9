// The one test suite every Lock adapter passes (memory today; supervisor, NATS KV
// and Redis later). `make` returns a fresh lock per test, with no lease taken.
// Real time, kept to tens of milliseconds: a shared store cannot use a fake clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lock } from './types.ts';

export function lockContract(name: string, make: () => Lock | Promise<Lock>): void {
  describe(`${name} (lock contract)`, { timeout: 10_000 }, () => {
    it('gives a name to one caller until it is released', async () => {
      const lock = await make();
      assert.equal(await lock.tryAcquire('job', 10_000), true);
      assert.equal(await lock.tryAcquire('job', 10_000), false);
      await lock.release('job');
      assert.equal(await lock.tryAcquire('job', 10_000), true);
    });

    it('keeps names independent', async () => {
      const lock = await make();
      assert.equal(await lock.tryAcquire('a', 10_000), true);
      assert.equal(await lock.tryAcquire('b', 10_000), true);
    });

    it('ends a lease when its ttl passes', async () => {
      const lock = await make();
      assert.equal(await lock.tryAcquire('job', 30), true);
      await sleep(60);
      assert.equal(await lock.tryAcquire('job', 30), true);
    });

    // What makes a cron tick run once across replicas.
    it('lets exactly one of many simultaneous callers win', async () => {
      const lock = await make();
      const results = await Promise.all(Array.from({ length: 20 }, () => lock.tryAcquire('tick', 10_000)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('treats releasing a name nobody holds as harmless', async () => {
      const lock = await make();
      await lock.release('nothing');
      assert.equal(await lock.tryAcquire('nothing', 10_000), true);
    });

    it('rejects a ttl that is not a positive number', async () => {
      const lock = await make();
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(lock.tryAcquire('job', ttl), RangeError);
      }
    });
  });
}
