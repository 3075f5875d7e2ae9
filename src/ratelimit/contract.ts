// The one test suite every RateCounters adapter passes: memory, the supervisor's over IPC,
// Redis. `make` returns counters with no key counted yet. Windows are whole seconds (what a
// shared store keeps), so the tests that watch one end wait a little over a second.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RateCounters } from './types.ts';

const MINUTE = 60_000;

export function rateCountersContract(name: string, make: () => RateCounters | Promise<RateCounters>): void {
  describe(`${name} (rate counters contract)`, { timeout: 20_000 }, () => {
    it("adds each hit's points to the key's window, and says when the window ends", async () => {
      const counters = await make();
      assert.equal((await counters.hit('client', 1, MINUTE)).consumed, 1);
      assert.equal((await counters.hit('client', 1, MINUTE)).consumed, 2);
      const third = await counters.hit('client', 3, MINUTE);
      assert.equal(third.consumed, 5);
      assert.ok(third.msBeforeNext > 0 && third.msBeforeNext <= MINUTE, `msBeforeNext ${third.msBeforeNext}`);
    });

    it('keeps keys, and windows of different lengths, apart', async () => {
      const counters = await make();
      await counters.hit('a', 4, MINUTE);
      assert.equal((await counters.hit('b', 1, MINUTE)).consumed, 1);
      assert.equal((await counters.hit('a', 1, 5000)).consumed, 1);
      assert.equal((await counters.hit('a', 1, MINUTE)).consumed, 5);
    });

    // What makes a limit exact under load: no two callers read the same count.
    it('counts simultaneous hits exactly, each caller seeing its own count', async () => {
      const counters = await make();
      const counts = await Promise.all(Array.from({ length: 50 }, () => counters.hit('burst', 1, MINUTE)));
      assert.deepEqual(
        counts.map((count) => count.consumed).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, index) => index + 1),
      );
    });

    it('forgets a key in the window named, and only there', async () => {
      const counters = await make();
      await counters.hit('fails', 3, MINUTE);
      await counters.hit('fails', 3, 5000);
      await counters.hit('other', 3, MINUTE);
      await counters.reset('fails', MINUTE);
      assert.equal((await counters.hit('fails', 1, MINUTE)).consumed, 1);
      assert.equal((await counters.hit('fails', 1, 5000)).consumed, 4);
      assert.equal((await counters.hit('other', 1, MINUTE)).consumed, 4);
    });

    it('treats forgetting a key never counted as harmless', async () => {
      const counters = await make();
      await counters.reset('never', MINUTE);
      assert.equal((await counters.hit('never', 1, MINUTE)).consumed, 1);
    });

    it('blocks a key for the time given, and no other', async () => {
      const counters = await make();
      assert.equal(await counters.blockedFor('login'), 0);
      await counters.block('login', 30_000);
      const left = await counters.blockedFor('login');
      assert.ok(left > 25_000 && left <= 30_000, `blocked for ${left} ms`);
      assert.equal(await counters.blockedFor('someone-else'), 0);
    });

    // One wait of a little over a second for both: windows and blocks are whole seconds.
    it('starts a new window once the last one has ended, and ends a block when its time has passed', async () => {
      const counters = await make();
      await counters.hit('short', 2, 1000);
      await counters.block('brief', 1000);
      assert.ok((await counters.blockedFor('brief')) > 0);
      await sleep(1100);
      assert.equal((await counters.hit('short', 1, 1000)).consumed, 1);
      assert.equal(await counters.blockedFor('brief'), 0);
    });
  });
}
