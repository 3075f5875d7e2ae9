// Consistent hashing on a key (the client's address): the same client goes to the same
// replica while that replica is in the pool, and when one joins or leaves only the clients
// it gains or loses move. Rendezvous (highest random weight) hashing: each replica scores
// hash(key, replica id) and the highest wins, the next highest is the fallback. No ring to
// rebuild on a change, and an exact answer for pools of a few dozen replicas, which is what
// a pool is; a pick costs one short hash per replica. Without a key, least in-flight.

import type { Replica } from '../upstream/replica.ts';
import { LeastInFlight } from './least-in-flight.ts';
import type { Balancer, Candidates, PickContext } from './types.ts';

export class ConsistentHash implements Balancer {
  /** The gateway computes a key (the client address) only for balancers that use one. */
  readonly keyed = 'address';
  readonly #fallback = new LeastInFlight();

  candidates(replicas: readonly Replica[], context?: PickContext): Candidates {
    if (context?.key === undefined) return this.#fallback.candidates(replicas);
    return new RankedCandidates(replicas, fnv1a(context.key));
  }
}

class RankedCandidates implements Candidates {
  readonly #order: Replica[];
  #at = 0;

  constructor(replicas: readonly Replica[], keyHash: number) {
    // Scored once per pick; the pool's array is the caller's and stays untouched.
    const scored = replicas.map((replica) => ({ replica, score: mix(keyHash, fnv1a(replica.id)) }));
    scored.sort((a, b) => b.score - a.score);
    this.#order = scored.map((entry) => entry.replica);
  }

  next(): Replica | undefined {
    return this.#order[this.#at++];
  }
}

/** FNV-1a, 32 bits: fast on short strings, well spread once mixed. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A 32-bit finaliser (murmur3's) over the pair, so scores of one key look independent. */
function mix(a: number, b: number): number {
  let hash = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
