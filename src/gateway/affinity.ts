// The request-side keys of sticky pools: the client's address for consistent hashing, the
// pool's affinity cookie for cookie affinity; and the cookie a response sets when the
// request's did not name the replica that answered it.

import type { IncomingMessage } from 'node:http';
import { parse, serialize } from 'cookie';
import { clientIp } from '../http/client-ip.ts';
import type { Candidates } from '../balancer/index.ts';
import type { ServicePool } from '../upstream/pools.ts';
import type { TrustedProxies } from './forwarded.ts';

/**
 * This request's candidates in `pool`, best first. The key (client address or affinity
 * cookie) is worked out only when the pool's balancer uses one: nothing is computed or
 * allocated for the others, on the gateway's hot path.
 */
export function candidatesFor(pool: ServicePool, req: IncomingMessage, trusted: TrustedProxies): Candidates {
  const kind = pool.balancer.keyed;
  if (kind === undefined) return pool.candidates();
  return pool.candidates(kind === 'address' ? clientIp(req, trusted) : cookieOf(req, pool.affinityCookie));
}

/** `Set-Cookie` to add to the answer from `replicaId`, or undefined when the request already had it. */
export function affinitySetCookie(req: IncomingMessage, pool: ServicePool, replicaId: string): string | undefined {
  const name = pool.affinityCookie;
  if (name === undefined || cookieOf(req, name) === replicaId) return undefined;
  // A session's worth of stickiness; no Max-Age, so it ends with the browser session.
  return serialize(name, replicaId, { path: '/', httpOnly: true, sameSite: 'lax' });
}

function cookieOf(req: IncomingMessage, name: string | undefined): string | undefined {
  const header = req.headers.cookie;
  if (name === undefined || header === undefined) return undefined;
  return parse(header)[name];
}
