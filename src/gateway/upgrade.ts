// WebSocket upgrades through the gateway: the socket route's owning service, a replica, the
// upgrade request forwarded over a fresh connection to it, and a tunnel only if it answers 101.
// The replica does the handshake, auth and frame limits (src/http/websocket.ts); the gateway
// refuses what the replica's hub would (400, 404) without a hop, and never parses a frame.
//
// node's HTTP client writes the request and parses the answer (llhttp), so no hand-written
// HTTP parser sits on this path; `agent: false` gives each upgrade its own connection, since a
// tunnel takes the connection for good.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Candidates } from '../balancer/index.ts';
import { BadRequestError, type CleaveError, RouteNotFoundError, ShuttingDownError } from '../errors.ts';
import { normalizeTarget } from '../http/path.ts';
import { writeRawError } from '../http/raw-error.ts';
import { requestIdOf } from '../http/request-id.ts';
import type { Router } from '../http/router.ts';
import { requestTo } from '../upstream/cluster-tls.ts';
import { UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
import type { TrustedProxies } from './forwarded.ts';
import { affinitySetCookie, candidatesFor } from './affinity.ts';
import { type Peers, peersOf } from './peers.ts';
import { pickReplica } from '../upstream/pick.ts';
import type { ServicePool, UpstreamPools } from '../upstream/pools.ts';
import { upstreamRequestHeaders } from './request-headers.ts';
import { openTunnel, relayRefusal, type Tunnel } from './tunnel.ts';
import { tryAgain } from '../upstream/attempts.ts';
import { blamesReplica, upstreamFailureOf, type UpstreamFailure } from '../upstream/upstream-failure.ts';

export interface UpgradeProxyOptions {
  router: Router;
  pools: UpstreamPools;
  log: Logger;
  trustedProxies: TrustedProxies;
  /** A node listener's: this node's id. Its peers are other nodes' gateways (peers.ts). */
  asNode?: string;
  /** Longest wait for a replica's answer to the upgrade, connect included; past it 504. @default 10000 */
  responseTimeoutMs?: number;
  /** Further replicas one upgrade may try. @default 2 */
  maxRetries?: number;
}

/** One upgrade on its way to a replica. */
interface Upgrade {
  req: IncomingMessage;
  client: Duplex;
  head: Buffer;
  pool: ServicePool;
  candidates: Candidates;
  /** Normalised path (for the log) and path + query (for the replica). */
  path: string;
  target: string;
  headers: string[];
  requestId: string;
  retries: number;
  /** The replica tried last, for the log. */
  replicaId: string;
}

export class UpgradeProxy {
  readonly #options: UpgradeProxyOptions;
  readonly #peers: Peers;
  readonly #tunnels = new Set<Tunnel>();
  #closing = false;

  constructor(options: UpgradeProxyOptions) {
    this.#options = options;
    this.#peers = peersOf(options.trustedProxies, options.asNode);
  }

  /** Tunnels open now. */
  get size(): number {
    return this.#tunnels.size;
  }

  handleUpgrade(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on('error', () => client.destroy());
    if (this.#closing) return writeRawError(client, new ShuttingDownError('gateway is shutting down'));
    let target: { path: string; search: string };
    try {
      target = normalizeTarget(req.url ?? '');
    } catch {
      return writeRawError(client, new BadRequestError('malformed request target'));
    }
    const match = this.#options.router.matchSocket(target.path);
    if (!match) return writeRawError(client, new RouteNotFoundError(`no socket route at ${target.path}`));
    const pool = this.#options.pools.get(match.socket.service);
    if (!pool) return writeRawError(client, new UpstreamUnavailableError(`no replica of ${match.socket.service}`));
    const requestId = requestIdOf(req.headers['x-request-id']);
    const { trustedProxies, clientTrust, appendPeer, affinity } = this.#peers;
    pool.budget.deposit();
    this.#attempt({
      req,
      client,
      head,
      pool,
      candidates: candidatesFor(pool, req, clientTrust, affinity),
      path: target.path,
      target: target.search === '' ? target.path : `${target.path}?${target.search}`,
      headers: upstreamRequestHeaders(req, { requestId, trustedProxies, appendPeer, upgrade: true }),
      requestId,
      retries: 0,
      replicaId: '-',
    });
  }

  /** Refuses new upgrades, ends open tunnels (FIN both ways), and cuts what is left after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    this.#closing = true;
    const tunnels = [...this.#tunnels];
    for (const tunnel of tunnels) {
      tunnel.client.end();
      tunnel.upstream.end();
    }
    const timer = setTimeout(() => {
      for (const tunnel of tunnels) tunnel.client.destroy();
    }, graceMs);
    await Promise.all(tunnels.map((tunnel) => tunnel.closed));
    clearTimeout(timer);
  }

  #attempt(upgrade: Upgrade): void {
    const { client, pool } = upgrade;
    const replica = pickReplica(upgrade.candidates);
    if (!replica)
      return this.#refuse(upgrade, new UpstreamUnavailableError(`no replica of ${pool.service} could answer`));
    upgrade.replicaId = replica.id;
    const lease = replica.begin();
    const timeoutMs = this.#options.responseTimeoutMs ?? 10_000;
    const outgoing = requestTo(replica.address, this.#options.pools.clusterTls, {
      agent: false,
      method: 'GET',
      path: upgrade.target,
      headers: upgrade.headers,
    });
    let settled = false;
    const abandon = () => outgoing.destroy();
    const timer = setTimeout(() => outgoing.destroy(new UpstreamTimeoutError('timed out')), timeoutMs);
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      client.off('close', abandon);
      // An open tunnel is not a request in flight: it would pin least-in-flight and drains.
      lease.release();
      return true;
    };
    client.once('close', abandon);

    outgoing.once('upgrade', (response: IncomingMessage, upstream: Duplex, upstreamHead: Buffer) => {
      if (!settle()) return;
      replica.recordSuccess();
      this.#log(upgrade, response.statusCode ?? 101, replica.id);
      if (client.destroyed) return void upstream.destroy();
      // A socket-only service pins its clients with the 101: browsers keep a handshake's cookie.
      const cookie = affinitySetCookie(upgrade.req, pool, replica, this.#peers.affinity);
      const tunnel = openTunnel(client, upgrade.head, response, upstream, upstreamHead, upgrade.requestId, cookie);
      this.#tunnels.add(tunnel);
      void tunnel.closed.then(() => this.#tunnels.delete(tunnel));
    });
    outgoing.once('response', (response: IncomingMessage) => {
      if (!settle()) return;
      replica.recordSuccess();
      this.#log(upgrade, response.statusCode ?? 0, replica.id);
      void relayRefusal(client, response, upgrade.requestId).finally(() => outgoing.destroy());
    });
    outgoing.on('close', () => {
      // Destroyed without an answer or an error: the client left while we waited.
      if (settle()) this.#log(upgrade, undefined, replica.id);
    });
    outgoing.on('error', (error: Error) => {
      if (!settle()) return;
      if (client.destroyed) return this.#log(upgrade, undefined, replica.id);
      const failure: UpstreamFailure =
        error instanceof UpstreamTimeoutError ? 'headers-timeout' : upstreamFailureOf(error);
      if (blamesReplica(failure)) replica.recordFailure();
      if (this.#mayRetry(upgrade, failure)) {
        upgrade.retries += 1;
        return this.#attempt(upgrade);
      }
      this.#refuse(
        upgrade,
        failure === 'headers-timeout'
          ? new UpstreamTimeoutError(`${pool.service} did not answer the upgrade in time`)
          : new UpstreamUnavailableError(`no replica of ${pool.service} could answer`, { cause: error }),
      );
    });
    outgoing.end();
  }

  /** An upgrade is a GET without a body: safe to repeat when the replica failed before answering. */
  #mayRetry(upgrade: Upgrade, failure: UpstreamFailure): boolean {
    return tryAgain({ failure, repeatable: true }, upgrade.retries, this.#options.maxRetries ?? 2, upgrade.pool.budget);
  }

  #refuse(upgrade: Upgrade, error: CleaveError): void {
    this.#log(upgrade, error.status, upgrade.replicaId);
    if (error.status >= 500) this.#options.log.warn({ err: error, requestId: upgrade.requestId }, 'upgrade failed');
    writeRawError(upgrade.client, error);
  }

  /** One line per upgrade; `status` undefined when the client left before an answer. */
  #log(upgrade: Upgrade, status: number | undefined, replica: string): void {
    this.#options.log.info(
      {
        requestId: upgrade.requestId,
        path: upgrade.path,
        status,
        service: upgrade.pool.service,
        replica,
        retries: upgrade.retries,
        ...(status === undefined ? { aborted: true } : {}),
      },
      'upgrade',
    );
  }
}
