// Who a gateway listener's peers are, and what follows from it. The public listener's are
// clients, and load balancers in front of cleave where CLEAVE_TRUSTED_PROXIES names them. A
// node listener's are the other nodes' gateways, proven by their certificates in the
// handshake: their forwarded headers hold, the hop between two gateways adds no
// X-Forwarded-For entry (the sending gateway added its own peer, so the replica finds the
// client where a single gateway would have put it, by the same CLEAVE_TRUSTED_PROXIES), and
// sticky cookies are read from this node's part. And a node listener that could not hand a
// request to any replica says it ran nothing (DECLINED_HEADER), so the sending gateway may
// try a third node rather than answer 502.

import { AffinityScope } from './affinity.ts';
import { TrustedProxies } from './forwarded.ts';

export interface Peers {
  /** Whose X-Forwarded-* are kept and passed on. */
  trustedProxies: TrustedProxies;
  /**
   * Whose X-Forwarded-For entries are skipped to find the client, for pools that hash on its
   * address: CLEAVE_TRUSTED_PROXIES on either listener (http/client-ip.ts takes a node
   * listener's peer for a gateway hop), so both nodes, and the replica, find the same client.
   */
  clientTrust: TrustedProxies;
  /** Whether the peer's address joins X-Forwarded-For. */
  appendPeer: boolean;
  affinity: AffinityScope;
  /** Whether an answer that ran nothing is marked so (DECLINED_HEADER). */
  declines: boolean;
}

const EVERY_PEER = new TrustedProxies(['0.0.0.0/0', '::/0']);

/** The public listener's peers (`asNode` undefined), or node `asNode`'s node listener's. */
export function peersOf(trustedProxies: TrustedProxies, asNode: string | undefined): Peers {
  return asNode === undefined
    ? { trustedProxies, clientTrust: trustedProxies, appendPeer: true, affinity: AffinityScope.edge, declines: false }
    : {
        trustedProxies: EVERY_PEER,
        clientTrust: trustedProxies,
        appendPeer: false,
        affinity: AffinityScope.ofNode(asNode),
        declines: true,
      };
}
