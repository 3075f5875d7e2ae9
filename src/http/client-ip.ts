// Who the client is, for a rate limiter: the socket's peer, unless that peer is a proxy we
// trust, whose X-Forwarded-For is then read from the right, past every trusted hop. A split
// replica's peer is the gateway over a unix socket: trusted, since the gateway replaced any
// X-Forwarded-For an untrusted client sent; so did another node's gateway, whose request
// reaches a node listener (gateway/peers.ts). A client can't spoof its way out of a limit.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { peerAddress, type TrustedProxies } from '../gateway/forwarded.ts';

export function clientIp(req: IncomingMessage, trusted: TrustedProxies): string {
  const peer = peerAddress(req);
  // remoteAddress is undefined on a unix socket: the gateway in front of this replica. A
  // socket whose client certificate was verified is a node listener's: another node's gateway.
  const viaGateway = req.socket.remoteAddress === undefined || (req.socket as Partial<TLSSocket>).authorized === true;
  if (!viaGateway && !trusted.trusts(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => hop.trim());
  for (let index = hops.length - 1; index >= 0; index--) {
    const hop = hops[index] as string;
    if (hop !== '' && !trusted.trusts(hop)) return hop;
  }
  return hops.find((hop) => hop !== '') ?? (peer || 'unknown');
}
