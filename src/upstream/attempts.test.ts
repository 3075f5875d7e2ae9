import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tryAgain, type FailedAttempt } from './attempts.ts';
import { RetryBudget } from './retry-budget.ts';
import type { UpstreamFailure } from './upstream-failure.ts';

/** A budget that always has a retry to give, counting what it gave. */
function openBudget() {
  return {
    given: 0,
    tryWithdraw() {
      this.given += 1;
      return true;
    },
  };
}

const again = (attempt: FailedAttempt, retries = 0, maxRetries = 2) =>
  tryAgain(attempt, retries, maxRetries, openBudget());

describe('tryAgain, the one retry rule of the gateway, its upgrades and ctx.call', () => {
  it('sends what reached no replica elsewhere, whatever it is', () => {
    for (const failure of ['refused', 'connect-timeout', 'removed', 'declined'] satisfies UpstreamFailure[]) {
      assert.equal(again({ failure, repeatable: false }), true, failure);
    }
  });

  it('repeats what may have run only when the connection broke and it is safe to run twice', () => {
    assert.equal(again({ failure: 'reset', repeatable: true }), true);
    assert.equal(again({ failure: 'reset', repeatable: false }), false);
    // A slow replica is not a dead one: a timeout repeated is a second slow request.
    assert.equal(again({ failure: 'headers-timeout', repeatable: true }), false);
    assert.equal(again({ failure: 'body-timeout', repeatable: true }), false);
    assert.equal(again({ failure: 'other', repeatable: true }), false);
  });

  it('trusts the caller over the failure about whether the request went out', () => {
    // A reset before the request was written: nothing ran, so even a POST may go elsewhere.
    assert.equal(again({ failure: 'reset', reached: false, repeatable: false }), true);
    // Refused before sending for a reason every replica would share: no point in another.
    assert.equal(again({ failure: 'other', reached: false, repeatable: true }), false);
  });

  it('stops at the retry count, and when the pool’s budget is spent', () => {
    assert.equal(again({ failure: 'refused', repeatable: true }, 2, 2), false);
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1000 }); // one retry in all
    assert.equal(tryAgain({ failure: 'refused', repeatable: true }, 0, 2, budget), true);
    assert.equal(tryAgain({ failure: 'refused', repeatable: true }, 0, 2, budget), false);
  });

  it('takes a retry from the budget only when it says yes', () => {
    const budget = openBudget();
    tryAgain({ failure: 'reset', repeatable: false }, 0, 2, budget);
    tryAgain({ failure: 'refused', repeatable: false }, 2, 2, budget);
    assert.equal(budget.given, 0);
    tryAgain({ failure: 'refused', repeatable: false }, 0, 2, budget);
    assert.equal(budget.given, 1);
  });
});
