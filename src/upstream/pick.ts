// Which replica a request (or its retry) goes to: the balancer's next candidate that is
// available, skipping the rest (src/balancer/types.ts: ordering is the balancer's job, the
// decision is the caller's).

import type { Candidates } from '../balancer/index.ts';
import type { Replica } from './replica.ts';

/**
 * The next available candidate. When none is, the first one that is only unhealthy — not
 * down, draining or full — as Envoy does below its panic threshold: with every replica marked
 * unhealthy by passive checks, a try that may fail beats a certain 502, and a success is what
 * brings a replica back (there are no active probes yet to do it).
 */
export function pickReplica(candidates: Candidates): Replica | undefined {
  let fallback: Replica | undefined;
  for (let replica = candidates.next(); replica !== undefined; replica = candidates.next()) {
    if (replica.available()) return replica;
    if (fallback === undefined && !replica.down && !replica.draining && !replica.full()) fallback = replica;
  }
  return fallback;
}
