// When a failed attempt on one replica goes to another: the one rule for the gateway's proxy,
// its upgrade path and ctx.call between services (Caddy's one `tryAgain`).
//
// What did not reach a replica may go to another whatever it is; what may have run there is
// repeated only when running it twice is safe (an idempotent method or action) and it can be
// sent again (no request body already streamed), and only when the connection broke, not
// when the replica was merely slow (a timeout repeated is a second slow request). Every retry
// is bounded by a count and by the pool's retry budget, so retries never multiply an overload.

import type { RetryBudget } from './retry-budget.ts';
import { reachedNothing, type UpstreamFailure } from './upstream-failure.ts';

export interface FailedAttempt {
  failure: UpstreamFailure;
  /**
   * Whether the request may have run on the replica. @default what the failure says
   * (`!reachedNothing(failure)`); the proxy knows better, from whether it wrote the request.
   */
  reached?: boolean;
  /** Safe to run twice and able to be sent again. */
  repeatable: boolean;
}

/** Whether to try another replica after `attempt`; takes a retry from `budget` when it says yes. */
export function tryAgain(
  attempt: FailedAttempt,
  retries: number,
  maxRetries: number,
  budget: Pick<RetryBudget, 'tryWithdraw'>,
): boolean {
  if (retries >= maxRetries) return false;
  const reached = attempt.reached ?? !reachedNothing(attempt.failure);
  if (reached) {
    if (attempt.failure !== 'reset' || !attempt.repeatable) return false;
  } else if (attempt.failure === 'other') {
    // Refused before sending for a reason another replica would share (a header undici refuses).
    return false;
  }
  return budget.tryWithdraw();
}
