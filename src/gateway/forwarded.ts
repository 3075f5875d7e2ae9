// X-Forwarded-For / -Proto / -Host: what a replica knows of the client behind the gateway.
// A client's own values are believed only when its peer is a configured trusted proxy (a load
// balancer in front of cleave); from anyone else they are replaced, or any client could claim
// any address to a rate limiter or an audit log.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';

export class TrustedProxies {
  readonly #list: BlockList | undefined;

  /** `proxies`: IP addresses or CIDR ranges ('10.0.0.0/8', 'fd00::/8'). @default [] (trust no one) */
  constructor(proxies: readonly string[] = []) {
    if (proxies.length === 0) return;
    const list = new BlockList();
    for (const entry of proxies) {
      const [address = '', bits] = entry.split('/');
      if (isIP(address) === 0) throw new RangeError(`trusted proxy "${entry}" is not an IP address or CIDR range`);
      const type = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(bits), type);
    }
    this.#list = list;
  }

  /** From CLEAVE_TRUSTED_PROXIES: comma-separated addresses or ranges; unset trusts no one. */
  static fromList(list: string | undefined): TrustedProxies {
    return new TrustedProxies(
      (list ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    );
  }

  trusts(peer: string): boolean {
    return this.#list !== undefined && peer !== '' && this.#list.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4');
  }
}

/** The TCP peer, with IPv4-mapped IPv6 ('::ffff:10.0.0.1') written as the IPv4 it is. */
export function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The scheme the client used to reach the gateway. */
export function schemeOf(req: IncomingMessage): 'http' | 'https' {
  return (req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
}
