// Per service, the replicas the gateway (and a replica's ctx.call) may send to and one
// keep-alive undici Pool per replica.
// The replica array is replaced on every change, never mutated: a balancer pick keeps the array
// it was given (src/balancer/types.ts), and changes are rare next to picks.

import type { Dispatcher, Pool } from 'undici';
import { loadOnUse } from '../shared/load-on-use.ts';
import { balancerFor, type Balancer, type BalancerName, type Candidates } from '../balancer/index.ts';
import type { Replica, ReplicaAddress } from './replica.ts';
import { HealthProbes, type HealthProbeOptions } from './health-probes.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
import { clusterConnectOptions, type ClusterTls } from './cluster-tls.ts';

// A replica loads it only once it calls another service.
const undici = loadOnUse<typeof import('undici')>('undici');

export interface UpstreamPoolsOptions {
  /** @default 'least-in-flight' */
  balancer?: BalancerName;
  /** A service's own choice (its `defineService` option), over `balancer`. */
  balancerOf?: (service: string) => BalancerName | undefined;
  /** Longest wait for a connection to a replica; past it the next replica is tried. @default 2000 */
  connectTimeoutMs?: number;
  /**
   * Idle keep-alive connections close after this. Kept under the replicas' own 5 s, so the
   * gateway, not the replica, closes an idle connection and never writes into one being closed
   * (undici also honours the replica's `Keep-Alive: timeout` hint). @default 4000
   */
  keepAliveTimeoutMs?: number;
  /** Per service. @default Envoy's: 20% of in-flight requests, at least 3 */
  retryBudget?: RetryBudgetOptions;
  /** Active health checks of every replica, or false for none. @default every 1 s, 1 s deadline */
  healthProbes?: HealthProbeOptions | false;
  /**
   * This node's certificate, key and the cluster's CA (PEM), shown to and checked of another
   * node's listener (a replica address with `tls`). Without them such a replica is unreachable.
   */
  clusterTls?: ClusterTls;
}

export class ServicePool {
  readonly service: string;
  readonly budget: RetryBudget;
  /** Which strategy orders this pool's candidates. */
  readonly balancer: Balancer;
  #replicas: readonly Replica[] = [];
  readonly #dispatchers = new Map<Replica, Pool>();

  constructor(service: string, balancer: Balancer, budget: RetryBudget) {
    this.service = service;
    this.balancer = balancer;
    this.budget = budget;
  }

  get replicas(): readonly Replica[] {
    return this.#replicas;
  }

  /**
   * One request's candidates, best first; the caller skips what isn't available. `key` is
   * what a sticky balancer picks by (`balancer.keyed` says which: the gateway's affinity.ts
   * works it out from the request); the others ignore it.
   */
  candidates(key?: string): Candidates {
    return this.balancer.candidates(this.#replicas, key === undefined ? undefined : { key });
  }

  /** The cookie that pins a client to a replica, when the pool's balancer uses one. */
  get affinityCookie(): string | undefined {
    return this.balancer.keyed === 'cookie' ? `cleave_${this.service}` : undefined;
  }

  /** Undefined once the replica has been removed (a pick made just before): try the next one. */
  dispatcherOf(replica: Replica): Dispatcher | undefined {
    return this.#dispatchers.get(replica);
  }

  /** @internal UpstreamPools owns membership. */
  add(replica: Replica, dispatcher: Pool): void {
    if (this.#replicas.some((known) => known.id === replica.id)) {
      throw new RangeError(`replica ${replica.id} is already in the ${this.service} pool`);
    }
    this.#dispatchers.set(replica, dispatcher);
    this.#replicas = [...this.#replicas, replica];
  }

  /** @internal Out of every later pick at once; returns its dispatcher for closing. */
  remove(replicaId: string): Pool | undefined {
    const replica = this.#replicas.find((known) => known.id === replicaId);
    if (!replica) return undefined;
    this.#replicas = this.#replicas.filter((known) => known !== replica);
    const dispatcher = this.#dispatchers.get(replica);
    this.#dispatchers.delete(replica);
    return dispatcher;
  }

  /** @internal */
  dispatchers(): Pool[] {
    return [...this.#dispatchers.values()];
  }
}

export class UpstreamPools {
  readonly #pools = new Map<string, ServicePool>();
  readonly #options: UpstreamPoolsOptions;
  readonly #probes: HealthProbes | undefined;

  constructor(options: UpstreamPoolsOptions = {}) {
    this.#options = options;
    this.#probes = options.healthProbes === false ? undefined : new HealthProbes(options.healthProbes);
  }

  /** What this gateway shows another node's listener (UpgradeProxy dials them too). */
  get clusterTls(): ClusterTls | undefined {
    return this.#options.clusterTls;
  }

  /** The service's pool, undefined while it has never had a replica. */
  get(service: string): ServicePool | undefined {
    return this.#pools.get(service);
  }

  add(service: string, replica: Replica): void {
    let pool = this.#pools.get(service);
    if (!pool) {
      pool = new ServicePool(
        service,
        balancerFor(this.#options.balancerOf?.(service) ?? this.#options.balancer ?? 'least-in-flight'),
        new RetryBudget(this.#options.retryBudget),
      );
      this.#pools.set(service, pool);
    }
    const dispatcher = dispatcherFor(replica.address, this.#options);
    pool.add(replica, dispatcher);
    this.#probes?.watch(replica, dispatcher);
  }

  /**
   * Takes the replica out of new picks at once, then closes its connections once the requests
   * already on them have finished (undici's close() waits for them).
   */
  async remove(service: string, replicaId: string): Promise<void> {
    const pool = this.#pools.get(service);
    const replica = pool?.replicas.find((known) => known.id === replicaId);
    if (replica) this.#probes?.unwatch(replica);
    await pool?.remove(replicaId)?.close();
  }

  /** Closes every connection: gracefully within `graceMs`, then by force. */
  async close(graceMs = 5000): Promise<void> {
    this.#probes?.stop();
    const dispatchers = [...this.#pools.values()].flatMap((pool) => pool.dispatchers());
    this.#pools.clear();
    await Promise.all(
      dispatchers.map(async (dispatcher) => {
        let timer: NodeJS.Timeout | undefined;
        const forced = new Promise<void>((resolve) => {
          timer = setTimeout(() => resolve(dispatcher.destroy()), graceMs);
        });
        await Promise.race([dispatcher.close(), forced]);
        clearTimeout(timer);
      }),
    );
  }
}

function dispatcherFor(address: ReplicaAddress, options: UpstreamPoolsOptions): Pool {
  const common = {
    // One request per connection at a time: a slow response can't hold up the ones behind it
    // (head-of-line blocking), and a failed connection fails one request, not a pipeline.
    pipelining: 1,
    // As many connections as requests in flight; Replica.maxInFlight is the bound, not a
    // hidden queue inside undici that the balancer could not see.
    connections: null,
    connect: { timeout: options.connectTimeoutMs ?? 2000 },
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4000,
  };
  if ('socketPath' in address)
    return new (undici().Pool)('http://localhost', { ...common, socketPath: address.socketPath });
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  if (!address.tls) return new (undici().Pool)(`http://${host}:${address.port}`, common);
  return new (undici().Pool)(`https://${host}:${address.port}`, {
    ...common,
    connect: { ...common.connect, ...clusterConnectOptions(options.clusterTls) },
  });
}
