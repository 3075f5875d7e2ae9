import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartBackoff, type RestartBackoffOptions, type RestartDecision } from './backoff.ts';

/** A policy on a hand-moved clock; `random` 0 means no jitter unless a test says otherwise. */
function setup(options: RestartBackoffOptions = {}) {
  let now = 0;
  const backoff = new RestartBackoff({ now: () => now, random: () => 0, ...options });
  return {
    backoff,
    /** The process runs for `uptimeMs`, then crashes. */
    crashAfter(uptimeMs: number): RestartDecision {
      backoff.started();
      now += uptimeMs;
      return backoff.exited();
    },
    /** Time passes while the process waits to be restarted. */
    wait(ms: number) {
      now += ms;
    },
  };
}

function delays(decisions: RestartDecision[]): number[] {
  return decisions.map((decision) => (decision.action === 'restart' ? decision.delayMs : -1));
}

describe('RestartBackoff', () => {
  it('doubles the delay from 100 ms at each consecutive crash, capped at 10 s', () => {
    const policy = setup({ maxCrashes: 100, crashWindowMs: 1 });
    const decisions = Array.from({ length: 10 }, () => policy.crashAfter(50));
    assert.deepEqual(delays(decisions), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    assert.deepEqual(
      decisions.map((decision) => decision.action === 'restart' && decision.attempt),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  it('takes at most `jitter` of each delay off, never adding to it', () => {
    let random = 0.999_999;
    const policy = setup({ random: () => random, maxCrashes: 100, crashWindowMs: 1 });
    assert.deepEqual(delays([policy.crashAfter(0), policy.crashAfter(0)]), [80, 160]);
    random = 0.5;
    assert.deepEqual(delays([policy.crashAfter(0)]), [360]);
    for (let i = 0; i < 10; i++) policy.crashAfter(0);
    random = 0;
    assert.deepEqual(delays([policy.crashAfter(0)]), [10_000]);
  });

  it('starts again from the first delay after a run of at least stableAfterMs', () => {
    const policy = setup({ stableAfterMs: 10_000, maxCrashes: 100 });
    assert.deepEqual(delays([policy.crashAfter(10), policy.crashAfter(10), policy.crashAfter(10)]), [100, 200, 400]);
    assert.deepEqual(delays([policy.crashAfter(10_000)]), [100]);
    assert.deepEqual(delays([policy.crashAfter(9_999)]), [200]);
  });

  it('gives up on more than maxCrashes exits within the window, and reports them', () => {
    const policy = setup({ maxCrashes: 3, crashWindowMs: 60_000 });
    const decisions = [policy.crashAfter(10), policy.crashAfter(10), policy.crashAfter(10), policy.crashAfter(10)];
    assert.deepEqual(
      decisions.map((decision) => decision.action),
      ['restart', 'restart', 'restart', 'give-up'],
    );
    assert.deepEqual(decisions[3], { action: 'give-up', crashes: 4, windowMs: 60_000 });
  });

  it('counts stable runs toward the crash window too (a replica dying every 11 s is broken)', () => {
    const policy = setup({ maxCrashes: 3, crashWindowMs: 60_000, stableAfterMs: 10_000 });
    const decisions = Array.from({ length: 4 }, () => policy.crashAfter(11_000));
    assert.deepEqual(delays(decisions.slice(0, 3)), [100, 100, 100]);
    assert.equal(decisions[3]?.action, 'give-up');
  });

  it('forgets crashes that fell out of the window', () => {
    const policy = setup({ maxCrashes: 2, crashWindowMs: 1_000 });
    policy.crashAfter(10);
    policy.crashAfter(10);
    policy.wait(1_000);
    assert.equal(policy.crashAfter(10).action, 'restart');
    assert.equal(policy.crashAfter(10).action, 'restart');
    assert.equal(policy.crashAfter(10).action, 'give-up');
  });

  it('treats an exit with no recorded start as a crash at boot', () => {
    const policy = setup();
    policy.crashAfter(10);
    assert.deepEqual(policy.backoff.exited(), { action: 'restart', delayMs: 200, attempt: 2 });
  });

  it('gives up at the first exit with maxCrashes 0 (never restart)', () => {
    assert.equal(setup({ maxCrashes: 0 }).crashAfter(60_000).action, 'give-up');
  });

  it('starts from scratch after reset()', () => {
    const policy = setup({ maxCrashes: 2 });
    policy.crashAfter(10);
    policy.crashAfter(10);
    policy.backoff.reset();
    assert.deepEqual(delays([policy.crashAfter(10), policy.crashAfter(10)]), [100, 200]);
  });

  it('refuses settings that make no sense', () => {
    assert.throws(() => new RestartBackoff({ factor: 0.5 }), RangeError);
    assert.throws(() => new RestartBackoff({ jitter: 2 }), RangeError);
    assert.throws(() => new RestartBackoff({ initialDelayMs: -1 }), RangeError);
    assert.throws(() => new RestartBackoff({ maxDelayMs: Number.NaN }), RangeError);
  });
});
