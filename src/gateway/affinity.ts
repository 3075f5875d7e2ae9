// The request-side keys of sticky pools: the client's address for consistent hashing, the
// pool's affinity cookie for cookie affinity; and the cookie a response sets when the
// request's did not name the replica that answered it.

import type { IncomingMessage } from 'node:http';
import { parse, serialize } from 'cookie';
import { clientIp } from '../http/client-ip.ts';
import type { TrustedProxies } from './forwarded.ts';
import type { ServicePool } from './pools.ts';

/** The key a sticky pool's balancer picks by, for this request. */
export function affinityKey(
  kind: 'address' | 'cookie',
  req: IncomingMessage,
  cookieName: string | undefined,
  trusted: TrustedProxies,
): string | undefined {
  return kind === 'address' ? clientIp(req, trusted) : cookieOf(req, cookieName);
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
