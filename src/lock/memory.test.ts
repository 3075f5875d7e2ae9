import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lockContract } from './contract.ts';
import { MemoryLock } from './memory.ts';

lockContract('MemoryLock', () => new MemoryLock());

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

describe('MemoryLock', () => {
  test('a lease ends exactly when its ttl passes, not before', async () => {
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
