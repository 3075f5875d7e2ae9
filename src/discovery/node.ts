// What one node (one `cleave start`) says about itself: in `cleave status`, and to the other
// nodes of the app in its heartbeats when they share a NATS.

import { randomBytes } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';

export interface NodePool {
  service: string;
  kind: 'requests' | 'tasks';
  ready: number;
  now: number;
}

export interface NodeInfo {
  /** The host's name and a suffix of this start's own, so two nodes on one host differ. */
  id: string;
  /** Where its gateway listens, as another machine would reach it: `10.0.0.5:3000`. */
  address: string;
  /** Where its node listener takes other nodes' requests (mutual TLS), when it has one. */
  nodeAddress?: string;
  pid: number;
  startedAt: string;
  pools: NodePool[];
}

/** As `cleave status` lists it. */
export interface NodeStatus extends NodeInfo {
  /** When its last heartbeat came (this node's own: now). */
  lastSeen: string;
  /** Whether it is the node that answered `cleave status`. */
  self: boolean;
}

/** This start's id: `web-3-7f2a9c` on host `web-3`. */
export function nodeId(): string {
  return `${hostname()}-${randomBytes(3).toString('hex')}`;
}

/**
 * This machine's address on its network: the first external IPv4, else IPv6, else loopback
 * (a node alone on its machine). With the gateway's port: `10.0.0.5:3000`.
 */
export function nodeAddress(port: number | undefined): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((address) => address !== undefined && !address.internal);
  const ip =
    external.find((address) => address?.family === 'IPv4')?.address ??
    (external[0] ? `[${external[0].address}]` : '127.0.0.1');
  return port === undefined ? ip : `${ip}:${port}`;
}

/**
 * Where the others reach a listener bound to `host`: that address itself when it is one,
 * else (bound to every interface) this machine's, as `nodeAddress` finds it.
 */
export function reachableAddress(host: string, port: number): string {
  if (host === '::' || host === '0.0.0.0' || host === '') return nodeAddress(port);
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
