import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBudget } from './retry-budget.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = 0;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('RetryBudget', () => {
  it('allows the per-second floor with no traffic at all', () => {
    const budget = new RetryBudget({ minPerSecond: 1, windowMs: 3000, ratio: 0.2, now: clock().now });
    assert.equal(budget.remaining, 3);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => budget.tryWithdraw()),
      [true, true, true, false],
    );
  });

  it('adds a fifth of the requests seen in the window', () => {
    const budget = new RetryBudget({ minPerSecond: 0, now: clock().now });
    for (let i = 0; i < 100; i++) budget.deposit();
    assert.equal(budget.remaining, 20);
    let granted = 0;
    while (budget.tryWithdraw()) granted += 1;
    assert.equal(granted, 20);
  });

  it('grants a burst of simultaneous retries that stays within the window share', () => {
    // Regression guard: a replica killed under load fails everything it held in one tick.
    const budget = new RetryBudget({ now: clock().now });
    for (let i = 0; i < 1000; i++) budget.deposit();
    const burst = Array.from({ length: 10 }, () => budget.tryWithdraw());
    assert.ok(burst.every(Boolean));
  });

  it('forgets requests and retries once they leave the window', () => {
    const time = clock();
    const budget = new RetryBudget({ minPerSecond: 0, windowMs: 1000, now: time.now });
    for (let i = 0; i < 50; i++) budget.deposit();
    for (let i = 0; i < 10; i++) assert.ok(budget.tryWithdraw());
    assert.equal(budget.tryWithdraw(), false);
    time.advance(500);
    for (let i = 0; i < 50; i++) budget.deposit();
    assert.equal(budget.remaining, 10, 'old deposits and withdrawals still count');
    time.advance(600);
    assert.equal(budget.remaining, 10, 'the first 50 requests and their 10 retries expired together');
    time.advance(10_000);
    assert.equal(budget.remaining, 0, 'an idle pool starts over at its floor');
  });

  it('refuses nonsense options', () => {
    assert.throws(() => new RetryBudget({ ratio: -1 }), RangeError);
    assert.throws(() => new RetryBudget({ minPerSecond: Number.NaN }), RangeError);
    assert.throws(() => new RetryBudget({ windowMs: 0 }), RangeError);
  });
});
