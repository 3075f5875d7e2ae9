import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryLock } from './memory.ts';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

describe('MemoryLock', () => {
  test('one caller holds a name until it is released', async () => {
    const lock = new MemoryLock();
    assert.equal(await lock.tryAcquire('job', 1000), true);
    assert.equal(await lock.tryAcquire('job', 1000), false);
    await lock.release('job');
    assert.equal(await lock.tryAcquire('job', 1000), true);
  });

  test('names are independent', async () => {
    const lock = new MemoryLock();
    assert.equal(await lock.tryAcquire('a', 1000), true);
    assert.equal(await lock.tryAcquire('b', 1000), true);
  });

  test('a lease ends when its ttl passes, not before', async () => {
    const clock = fakeClock();
    const lock = new MemoryLock({ now: clock.now });
    assert.equal(await lock.tryAcquire('job', 500), true);
    clock.advance(499);
    assert.equal(await lock.tryAcquire('job', 500), false);
    clock.advance(1);
    assert.equal(await lock.tryAcquire('job', 500), true);
  });

  test('a failed attempt does not extend the lease', async () => {
    const clock = fakeClock();
    const lock = new MemoryLock({ now: clock.now });
    await lock.tryAcquire('job', 100);
    clock.advance(50);
    assert.equal(await lock.tryAcquire('job', 1000), false);
    clock.advance(50);
    assert.equal(await lock.tryAcquire('job', 100), true);
  });

  test('of many simultaneous callers exactly one wins', async () => {
    const lock = new MemoryLock();
    const results = await Promise.all(Array.from({ length: 20 }, () => lock.tryAcquire('tick', 1000)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  test('releasing a name nobody holds is harmless', async () => {
    const lock = new MemoryLock();
    await lock.release('nothing');
    assert.equal(await lock.tryAcquire('nothing', 10), true);
  });

  test('rejects a ttl that is not a positive number', async () => {
    const lock = new MemoryLock();
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(lock.tryAcquire('job', ttl), RangeError);
    }
  });

  // Cron leaves one lease per tick behind; a day of a per-second job must not keep 86,400 of them.
  test('expired leases are swept, so per-tick names do not pile up', async () => {
    const clock = fakeClock();
    const lock = new MemoryLock({ now: clock.now });
    for (let tick = 0; tick < 10_000; tick++) {
      assert.equal(await lock.tryAcquire(`cron:jobs.tick:${tick}`, 5_000), true);
      clock.advance(1000);
    }
    assert.ok(lock.size <= 64, `expected at most 64 leases kept, found ${lock.size}`);
  });
});
