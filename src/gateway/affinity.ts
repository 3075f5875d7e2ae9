// The request-side keys of sticky pools: the client's address for consistent hashing, the
// pool's affinity cookie for cookie affinity; and the cookie a response sets when the
// request's did not name the replica that answered it.
//
// Across nodes one cookie names the whole way: the public listener reads and writes its first
// part, the replica that served the client (`posts#2`) or the node that did (`node:b-1`); that
// node's gateway, answering on its node listener, reads and writes what follows its own name
// (`node:b-1/posts#1`). So a client stays on one replica wherever it is, and a cookie that
// names a replica gone (or a forged one) only loses its preference.

import type { IncomingMessage } from 'node:http';
import { parse, serialize } from 'cookie';
import { clientIp } from '../http/client-ip.ts';
import type { Candidates } from '../balancer/index.ts';
import type { ServicePool } from '../upstream/pools.ts';
import type { Replica } from '../upstream/replica.ts';
import { isRemoteNode, remoteNodeId } from '../upstream/remote-nodes.ts';
import type { TrustedProxies } from './forwarded.ts';

/** Which part of an affinity cookie a listener reads and writes. */
export class AffinityScope {
  /** The public listener's: the first part. */
  static readonly edge = new AffinityScope(undefined);

  /** A node listener's, on the node named `nodeId`: what follows `node:<nodeId>/`. */
  static ofNode(nodeId: string): AffinityScope {
    return new AffinityScope(`${remoteNodeId(nodeId)}/`);
  }

  readonly #prefix: string | undefined;

  private constructor(prefix: string | undefined) {
    this.#prefix = prefix;
  }

  /** The replica id a cookie's value names to this listener, if any. */
  keyOf(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    if (this.#prefix === undefined) {
      const end = value.indexOf('/');
      return end === -1 ? value : value.slice(0, end);
    }
    return value.startsWith(this.#prefix) ? value.slice(this.#prefix.length) : undefined;
  }

  /**
   * The cookie's value once `replica` answered, or undefined when another node's gateway
   * writes it: that node knows which of its replicas served.
   */
  valueOf(replica: Replica): string | undefined {
    if (isRemoteNode(replica)) return undefined;
    return this.#prefix === undefined ? replica.id : `${this.#prefix}${replica.id}`;
  }
}

/**
 * This request's candidates in `pool`, best first. The key (client address or affinity
 * cookie) is worked out only when the pool's balancer uses one: nothing is computed or
 * allocated for the others, on the gateway's hot path.
 */
export function candidatesFor(
  pool: ServicePool,
  req: IncomingMessage,
  trusted: TrustedProxies,
  scope: AffinityScope,
): Candidates {
  const kind = pool.balancer.keyed;
  if (kind === undefined) return pool.candidates();
  return pool.candidates(kind === 'address' ? clientIp(req, trusted) : scope.keyOf(cookieOf(req, pool.affinityCookie)));
}

/** `Set-Cookie` to add to the answer from `replica`, or undefined when the request already had it. */
export function affinitySetCookie(
  req: IncomingMessage,
  pool: ServicePool,
  replica: Replica,
  scope: AffinityScope,
): string | undefined {
  const name = pool.affinityCookie;
  if (name === undefined) return undefined;
  const value = scope.valueOf(replica);
  if (value === undefined || cookieOf(req, name) === value) return undefined;
  // A session's worth of stickiness; no Max-Age, so it ends with the browser session.
  return serialize(name, value, { path: '/', httpOnly: true, sameSite: 'lax' });
}

function cookieOf(req: IncomingMessage, name: string | undefined): string | undefined {
  const header = req.headers.cookie;
  if (name === undefined || header === undefined) return undefined;
  return parse(header)[name];
}
