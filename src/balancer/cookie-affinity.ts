// Cookie affinity: the gateway names the replica that served a client in a cookie
// (`cleave_<service>=<replica id>`), and sends the client's next requests there while that
// replica is in the pool. For clients that share one address (behind a NAT or a corporate
// proxy), which consistent hashing on the address would pile onto one replica. A client
// without the cookie, or whose replica left, gets least in-flight, and a new cookie.

import type { Replica } from '../upstream/replica.ts';
import { LeastInFlight } from './least-in-flight.ts';
import type { Balancer, Candidates, PickContext } from './types.ts';

export class CookieAffinity implements Balancer {
  readonly keyed = 'cookie';
  readonly #fallback = new LeastInFlight();

  candidates(replicas: readonly Replica[], context?: PickContext): Candidates {
    const rest = this.#fallback.candidates(replicas);
    const pinned = context?.key === undefined ? undefined : replicas.find((replica) => replica.id === context.key);
    return pinned === undefined ? rest : new PinnedFirst(pinned, rest);
  }
}

class PinnedFirst implements Candidates {
  readonly #pinned: Replica;
  readonly #rest: Candidates;
  #started = false;

  constructor(pinned: Replica, rest: Candidates) {
    this.#pinned = pinned;
    this.#rest = rest;
  }

  next(): Replica | undefined {
    if (!this.#started) {
      this.#started = true;
      return this.#pinned;
    }
    let replica = this.#rest.next();
    while (replica === this.#pinned) replica = this.#rest.next();
    return replica;
  }
}
