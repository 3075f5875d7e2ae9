// The gateway, assembled: the proxy pipeline and the upgrade proxy on one HTTP server, in
// front of one keep-alive pool per replica, actively probed. It learns where replicas are
// from whoever runs them (ready / gone): in split mode, the supervisor over IPC
// (gateway-main.ts).

import diagnostics_channel from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { App } from '../app/app.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { Router } from '../http/router.ts';
import { HttpServer } from '../http/server.ts';
import type { TlsSettings } from '../http/tls.ts';
import { Replica, type ReplicaAddress, type ReplicaHealthMessage } from '../upstream/replica.ts';
import { TrustedProxies } from './forwarded.ts';
import { UpstreamPools } from '../upstream/pools.ts';
import { createProxy, type ProxyOptions } from './proxy.ts';
import { responseCacheOf, type ResponseCache } from '../cache/response-cache.ts';
import { UpgradeProxy } from './upgrade.ts';
import type { Metrics } from '../observability/metrics.ts';
import { upstreamErrorChannel, type UpstreamErrorMessage } from '../upstream/upstream-failure.ts';

export interface GatewayOptions {
  app: App;
  config: RuntimeConfig;
  log: Logger;
  /** Hears each flip of a replica's health (probes and passive checks). */
  onHealth?: (service: string, id: string, healthy: boolean) => void;
  /** HTTPS on PORT (http/tls.ts loadTls): TLS ends here, replicas see X-Forwarded-Proto: https. */
  tls?: TlsSettings;
  /** Sign-in and rate limits for the answers the cache gives (the replicas check the others). */
  cacheGuards?: ProxyOptions['cacheGuards'];
  /** Counts and times the requests of the public listener, and every failed attempt on a replica. */
  metrics?: Metrics;
  /**
   * A second listener, for other nodes' gateways: mutual TLS with the cluster's certificates
   * (`tls.clientCa`), so whoever reaches it without one is refused in the handshake.
   */
  nodeListener?: {
    port: number;
    tls: TlsSettings;
    /** This node's name among the others, which its part of a sticky cookie starts with. */
    nodeId: string;
  };
}

const healthChannel = diagnostics_channel.channel('cleave:upstream:health');

export class Gateway {
  readonly pools: UpstreamPools;
  /** GET and HEAD answers kept at the edge; undefined with CLEAVE_CACHE=off. */
  readonly cache: ResponseCache | undefined;
  readonly #server: HttpServer;
  readonly #nodeServer: HttpServer | undefined;
  readonly #log: Logger;
  readonly #onHealth: GatewayOptions['onHealth'];
  /** Replicas of this gateway, to their service: the health channel is process-wide. */
  readonly #services = new Map<Replica, string>();
  readonly #healthListener = (message: unknown) => this.#healthChanged(message as ReplicaHealthMessage);
  #failureListener: ((message: unknown) => void) | undefined;

  constructor(options: GatewayOptions) {
    const { app, config, log } = options;
    this.#log = log;
    this.#onHealth = options.onHealth;
    this.pools = new UpstreamPools({
      balancerOf: (service) => app.services.find((candidate) => candidate.name === service)?.balancer,
      healthProbes: { intervalMs: config.CLEAVE_HEALTH_INTERVAL_MS, timeoutMs: config.CLEAVE_HEALTH_TIMEOUT_MS },
      ...(options.nodeListener?.tls.clientCa
        ? {
            clusterTls: {
              ca: options.nodeListener.tls.clientCa,
              cert: options.nodeListener.tls.cert,
              key: options.nodeListener.tls.key,
            },
          }
        : {}),
    });
    const router = new Router(app);
    const trustedProxies = TrustedProxies.fromList(config.CLEAVE_TRUSTED_PROXIES);
    this.cache = config.CLEAVE_CACHE ? responseCacheOf(config) : undefined;
    const cache = this.cache;
    /** One listener: the proxy and the upgrade proxy over this gateway's pools. */
    const serverOn = (port: number, tls: TlsSettings | undefined, asNode?: string, redirectHttpPort?: number) => {
      const peers = asNode === undefined ? {} : { asNode };
      // Requests from other nodes were counted by the gateway they came through.
      const metrics = asNode === undefined && options.metrics ? { metrics: options.metrics } : {};
      return new HttpServer({
        pipeline: createProxy({
          router,
          pools: this.pools,
          log,
          trustedProxies,
          ...peers,
          accessLog: config.CLEAVE_ACCESS_LOG,
          ...(cache ? { cache } : {}),
          ...(options.cacheGuards ? { cacheGuards: options.cacheGuards } : {}),
          ...metrics,
        }),
        hub: new UpgradeProxy({ router, pools: this.pools, log, trustedProxies, ...peers }),
        log,
        listen: { port, host: config.HOST },
        headersTimeoutMs: config.CLEAVE_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: config.CLEAVE_REQUEST_TIMEOUT_MS,
        ...(tls ? { tls } : {}),
        ...(redirectHttpPort !== undefined ? { redirectHttpPort } : {}),
      });
    };
    this.#server = serverOn(
      config.PORT,
      options.tls,
      undefined,
      options.tls ? config.CLEAVE_HTTP_REDIRECT_PORT : undefined,
    );
    const node = options.nodeListener;
    this.#nodeServer = node ? serverOn(node.port, node.tls, node.nodeId) : undefined;
    healthChannel.subscribe(this.#healthListener);
    const { metrics } = options;
    if (metrics && cache) metrics.observeCache(() => cache.stats());
    if (metrics) {
      this.#failureListener = (message: unknown) => {
        const { service, failure, retried } = message as UpstreamErrorMessage;
        metrics.upstreamFailed(service, failure, retried);
      };
      upstreamErrorChannel.subscribe(this.#failureListener);
    }
  }

  /**
   * A replica listens at `address` (a unix socket here, or another node's listener): it gets
   * traffic from now on (in place of one with its id).
   */
  ready(service: string, id: string, address: ReplicaAddress): void {
    if (this.pools.get(service)?.replicas.some((known) => known.id === id)) this.gone(service, id);
    const view = new Replica(id, address);
    this.#services.set(view, service);
    this.pools.add(service, view);
  }

  /** The replica's process is gone: out of every pick at once. */
  gone(service: string, id: string): void {
    for (const [replica, owner] of this.#services)
      if (owner === service && replica.id === id) this.#services.delete(replica);
    void this.pools.remove(service, id);
  }

  /** Out of every pick at once; resolves when the requests already sent to it have finished. */
  async drain(service: string, id: string): Promise<void> {
    for (const [replica, owner] of this.#services)
      if (owner === service && replica.id === id) this.#services.delete(replica);
    await this.pools.remove(service, id);
  }

  listen(): Promise<AddressInfo> {
    return this.#server.listen() as Promise<AddressInfo>;
  }

  /** Opens the node listener, if this gateway has one: its address, else undefined. */
  async listenForNodes(): Promise<AddressInfo | undefined> {
    return (await this.#nodeServer?.listen()) as AddressInfo | undefined;
  }

  /** Stops taking requests, finishes those in flight (up to `graceMs`), then closes the pools. */
  async stop(graceMs: number): Promise<void> {
    healthChannel.unsubscribe(this.#healthListener);
    if (this.#failureListener) upstreamErrorChannel.unsubscribe(this.#failureListener);
    await Promise.all([this.#server.stop(graceMs), this.#nodeServer?.stop(graceMs)]);
    await this.pools.close(1000);
  }

  #healthChanged({ replica, healthy, down }: ReplicaHealthMessage): void {
    const service = this.#services.get(replica);
    if (service === undefined || down) return; // another gateway's, or gone (the supervisor logs exits)
    if (healthy) this.#log.info({ service, replica: replica.id }, 'replica healthy again');
    else this.#log.warn({ service, replica: replica.id }, 'replica unhealthy: out of the pool');
    // Another node's replicas are that node's to replace; only this node's own are told.
    if ('socketPath' in replica.address) this.#onHealth?.(service, replica.id, healthy);
  }
}
