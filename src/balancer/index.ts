// The balancer folder's public face: the port, its strategies, and a factory by name so
// config can say `least-in-flight` without importing a class.

import { ConsistentHash } from './consistent-hash.ts';
import { CookieAffinity } from './cookie-affinity.ts';
import { LeastInFlight } from './least-in-flight.ts';
import { RoundRobin } from './round-robin.ts';
import type { Balancer } from './types.ts';

export type { Balancer, Candidates, PickContext } from './types.ts';
export { ConsistentHash } from './consistent-hash.ts';
export { CookieAffinity } from './cookie-affinity.ts';
export { LeastInFlight } from './least-in-flight.ts';
export { RoundRobin } from './round-robin.ts';

/** Every strategy `balancerFor` knows, for config validation. */
export const balancerNames = ['least-in-flight', 'round-robin', 'consistent-hash', 'cookie-affinity'] as const;

export type BalancerName = (typeof balancerNames)[number];

/** A new balancer for one pool: each instance holds its own pool's rotation, never share one. */
export function balancerFor(name: BalancerName): Balancer {
  switch (name) {
    case 'least-in-flight':
      return new LeastInFlight();
    case 'round-robin':
      return new RoundRobin();
    case 'consistent-hash':
      return new ConsistentHash();
    case 'cookie-affinity':
      return new CookieAffinity();
    default:
      // Config arrives as strings at run time, whatever the type says.
      throw new RangeError(`unknown balancer "${String(name)}"; expected one of: ${balancerNames.join(', ')}`);
  }
}
