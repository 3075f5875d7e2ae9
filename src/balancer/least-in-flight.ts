// Least in-flight: the replica serving the fewest requests right now goes first, so a replica
// stuck on slow requests gets fewer new ones. Ties go round (a rotating scan start), so equal
// replicas share the load instead of the first one in the array taking it all. Unavailable
// replicas rank after every available one, however idle: an unhealthy or draining replica gets
// no new requests, so its count falls to 0, and ranked by count alone it would head every pick
// only for the caller to skip it.
//
// An exact scan, not power-of-two-choices. P2C (Envoy's default, choice_count 2) samples two
// replicas because many proxies with stale views of load would otherwise herd onto the same
// "least loaded" host, and because a scan over thousands of hosts costs too much. Neither holds
// here: one gateway owns the counts, updated synchronously as each request begins, so the least
// loaded replica is known exactly (join-the-shortest-queue, which balances better than P2C for
// a single dispatcher); and a pool is bounded by the machine's cores. bench/balancer.ts: P2C is
// 4–6× faster at 64 replicas, but the scan's ~0.2 µs is under 1% of a proxied request (~50 µs).

import type { Replica } from '../upstream/replica.ts';
import { Rotation } from './rotation.ts';
import type { Balancer, Candidates } from './types.ts';

export class LeastInFlight implements Balancer {
  readonly #rotation = new Rotation();

  candidates(replicas: readonly Replica[]): Candidates {
    return new LeastInFlightCandidates(this.#rotation, replicas);
  }
}

class LeastInFlightCandidates implements Candidates {
  readonly #rotation: Rotation;
  readonly #replicas: readonly Replica[];
  readonly #start: number;
  #taken = 0;
  /** The first replica handed out: all a pick needs to remember until a retry. */
  #first = -1;
  /** Which replicas were handed out, from the second `next()` on (a retry: rare, may allocate). */
  #handedOut: Uint8Array | undefined;

  constructor(rotation: Rotation, replicas: readonly Replica[]) {
    this.#rotation = rotation;
    this.#replicas = replicas;
    this.#start = rotation.start(replicas.length);
  }

  // Ranks what is left as of this call rather than sorting once up front: the first call
  // (nearly every request) is one scan with no allocation, and a retry ranks by the counts
  // of the moment it happens, not those of the first attempt.
  next(): Replica | undefined {
    const replicas = this.#replicas;
    const count = replicas.length;
    if (this.#taken >= count) return undefined;
    let handedOut = this.#handedOut;
    if (this.#taken === 1 && handedOut === undefined) {
      handedOut = this.#handedOut = new Uint8Array(count);
      handedOut[this.#first] = 1;
    }

    let best = -1;
    let bestLoad = Infinity;
    let firstUnavailable = -1;
    let index = this.#start;
    for (let step = 0; step < count; step++) {
      const replica = replicas[index];
      // available() is asked only of a replica that would beat the best so far: in a busy
      // pool that is a few of them, and the scan stays one field read per replica.
      if (replica !== undefined && replica.inFlight < bestLoad && handedOut?.[index] !== 1) {
        if (replica.available()) {
          best = index;
          bestLoad = replica.inFlight;
          if (bestLoad === 0) break; // an idle available replica: nothing can beat it
        } else if (firstUnavailable === -1) {
          firstUnavailable = index;
        }
      }
      index = index + 1 === count ? 0 : index + 1;
    }
    // Unavailable replicas come after every available one. While none is available, nothing
    // raises bestLoad, so each of them reaches the check above and the first one is found.
    if (best === -1) best = firstUnavailable;
    if (best === -1) return undefined;

    this.#taken += 1;
    if (handedOut === undefined) this.#first = best;
    else handedOut[best] = 1;
    this.#rotation.handedOut(best);
    return replicas[best];
  }
}
