// A gateway's replicas on other nodes: for each service this node does not run, the node
// listener of every live node that runs it (heard on NATS, discovery/nats-directory.ts), one
// replica per node, reached over mutual TLS. That node's own gateway then picks among its
// replicas; a node listener never sends a request on to a third node, as its node runs the
// service. Balancers, probes, the retry rule and the cache treat these as any replica.

import type { NodeStatus } from '../discovery/node.ts';
import type { Replica, ReplicaAddress } from './replica.ts';

/** The replica id of the node `nodeId` in a pool of another node's gateway. */
export function remoteNodeId(nodeId: string): string {
  return `node:${nodeId}`;
}

/** Whether `replica` is another node (its node listener), which picks a replica of its own. */
export function isRemoteNode(replica: Replica): boolean {
  return 'host' in replica.address && replica.address.tls === true;
}

/**
 * On a node listener's error answer when no replica ran the request: the sending gateway may
 * try another node (gateway/exchange.ts), and never passes it to a client.
 */
export const DECLINED_HEADER = 'x-cleave-declined';

export interface RemoteNodesOptions {
  /** The other nodes lately heard. */
  nodes: () => readonly NodeStatus[];
  /** The services this node runs: never sent elsewhere. */
  here: ReadonlySet<string>;
  up(service: string, id: string, address: ReplicaAddress): void;
  down(service: string, id: string): void;
  /** How often the list is read again. @default 1000 */
  everyMs?: number;
}

export class RemoteNodes {
  readonly #options: RemoteNodesOptions;
  /** `service \0 id` → what was told up. */
  readonly #told = new Map<string, { service: string; id: string; address: string }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RemoteNodesOptions) {
    this.#options = options;
  }

  start(): void {
    this.sync();
    this.#timer = setInterval(() => this.sync(), this.#options.everyMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Tells what changed since the last read: nodes that came or went, services that moved. */
  sync(): void {
    const wanted = new Map<string, { service: string; id: string; address: string }>();
    for (const node of this.#options.nodes()) {
      if (node.self || node.nodeAddress === undefined) continue;
      for (const pool of node.pools) {
        if (pool.kind !== 'requests' || pool.ready === 0 || this.#options.here.has(pool.service)) continue;
        const id = remoteNodeId(node.id);
        wanted.set(`${pool.service}\0${id}`, { service: pool.service, id, address: node.nodeAddress });
      }
    }
    for (const [key, told] of this.#told) {
      const now = wanted.get(key);
      if (now?.address === told.address) continue;
      this.#told.delete(key);
      this.#options.down(told.service, told.id);
    }
    for (const [key, entry] of wanted) {
      if (this.#told.has(key)) continue;
      const address = hostAndPort(entry.address);
      if (!address) continue;
      this.#told.set(key, entry);
      this.#options.up(entry.service, entry.id, { ...address, tls: true });
    }
  }
}

/** `10.0.0.5:3001` or `[fd00::5]:3001` → host and port; undefined for anything else. */
function hostAndPort(address: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) return undefined;
  const port = Number(match[2]);
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host: match[1] as string, port } : undefined;
}
