// Who a gateway listener's peers are, and what follows from it. The public listener's are
// clients, and load balancers in front of cleave where CLEAVE_TRUSTED_PROXIES names them. A
// node listener's are the other nodes' gateways, proven by their certificates in the
// handshake: their forwarded headers hold, the hop between two gateways adds no
// X-Forwarded-For entry (the sending gateway added its own peer, so the replica finds the
// client where a single gateway would have put it, by the same CLEAVE_TRUSTED_PROXIES), and
// sticky cookies are read from this node's part.

import { AffinityScope } from './affinity.ts';
import { TrustedProxies } from './forwarded.ts';

export interface Peers {
  /** Whose X-Forwarded-* are believed. */
  trustedProxies: TrustedProxies;
  /** Whether the peer's address joins X-Forwarded-For. */
  appendPeer: boolean;
  affinity: AffinityScope;
}

const EVERY_PEER = new TrustedProxies(['0.0.0.0/0', '::/0']);

/** The public listener's peers (`asNode` undefined), or node `asNode`'s node listener's. */
export function peersOf(trustedProxies: TrustedProxies, asNode: string | undefined): Peers {
  return asNode === undefined
    ? { trustedProxies, appendPeer: true, affinity: AffinityScope.edge }
    : { trustedProxies: EVERY_PEER, appendPeer: false, affinity: AffinityScope.ofNode(asNode) };
}
