// The Balancer port: a strategy orders a pool's replicas for one request; it never decides
// whether a replica may take it (that is Replica.available(), asked by the caller).

import type { Replica } from '../upstream/replica.ts';

/** What a strategy may know about the request being placed. */
export interface PickContext {
  /** Affinity key (client IP, session cookie) for hashing strategies; the others ignore it. */
  readonly key?: string;
}

/**
 * One request's candidates, best first, computed lazily: each `next()` ranks what is left
 * as of that call, so a retry seconds later sees current in-flight counts.
 *
 * Not the iterator protocol on purpose: `next()` returns the replica itself, so a pick
 * allocates this one small object and no `{ value, done }` per step (a generator costs
 * 3–4× the time and 4× the bytes; see bench/balancer.ts).
 */
export interface Candidates {
  /** The next replica to try, each replica of the pool once, then `undefined`. */
  next(): Replica | undefined;
}

/**
 * Use:
 * ```ts
 * const candidates = balancer.candidates(pool.replicas);
 * for (let replica = candidates.next(); replica; replica = candidates.next()) {
 *   if (!replica.available()) continue;
 *   // call it; on a retryable failure, loop: the next candidate is another replica
 * }
 * ```
 * Contract (src/balancer/contract.ts): every replica exactly once per pick, the first call
 * yields one whenever the pool is non-empty, equal idle replicas share picks evenly, and
 * pools that grow or shrink between picks are fine. A pick keeps the array it was given, so
 * pools replace their array on change rather than mutate it (copy on write: changes are
 * rare, picks are not). One Balancer instance per pool: it holds that pool's rotation.
 */
export interface Balancer {
  candidates(replicas: readonly Replica[], context?: PickContext): Candidates;
  /**
   * What `context.key` must be for this strategy: the client's address, or the value of the
   * pool's affinity cookie. Unset: no key, and the caller works none out.
   */
  readonly keyed?: 'address' | 'cookie';
}
