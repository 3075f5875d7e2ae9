// The control plane of a split app: owns the one store and the locks, is the
// event hub, runs each service as a pool of replica processes, runs each
// service's tasks in a pool of worker processes, and runs the gateway process
// in front of the replicas. Replicas and the gateway reach it over IPC; the
// gateway (and any other registry) learns where to send traffic, and tells it
// which replicas fail their health probes: one that stays unhealthy is
// replaced, as an orchestrator's liveness probe would. An autoscaler resizes
// every pool from the load its processes report.

import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { App } from '../app/app.ts';
import type { ScalePolicy } from '../app/service.ts';
import { Autoscaler } from '../autoscale/autoscaler.ts';
import { ScaleLoop } from '../autoscale/control-loop.ts';
import { DecisionLog } from '../autoscale/decision-log.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { IpcHub } from '../ipc/hub.ts';
import { MemoryLock } from '../lock/memory.ts';
import { serveLock } from '../lock/ipc.ts';
import { serveTasks } from '../queue/ipc.ts';
import { serveRateCounters } from '../ratelimit/ipc.ts';
import { MemoryRateCounters } from '../ratelimit/memory.ts';
import { serveStore } from '../store/ipc.ts';
import { storeOf } from '../runtime/ports.ts';
import { PostgresStore } from '../store/postgres.ts';
import { natsOf, redisOf, startAll, stopAll } from '../runtime/shared-servers.ts';
import { coalesceReads } from '../store/coalesce.ts';
import type { StoreBackend } from '../store/types.ts';
import { AdminServer } from './admin-server.ts';
import { NatsDirectory } from '../discovery/nats-directory.ts';
import { nodeAddress, nodeId, reachableAddress, type NodeInfo } from '../discovery/node.ts';
import type { NatsConnection } from '../nats/connection.ts';
import { type GatewayAddress, GatewayProcess } from './gateway-process.ts';
import { ReplicaDirectory } from './replica-directory.ts';
import { type ReplicaRegistry, ServicePool } from './service-pool.ts';
import { servicesOfThisNode } from './node-services.ts';
import { makeSocketDir, SOCKET_DIR_ENV } from './socket-dir.ts';
import { type AppStatus, poolStatus, type PoolStatus } from './status.ts';
import { TaskBroker } from './task-broker.ts';
import { AdminListener, urlOf } from '../observability/admin-listener.ts';
import { Dashboard } from '../observability/dashboard.ts';
import { Metrics } from '../observability/metrics.ts';
import { MetricsGatherer } from '../observability/metrics-gatherer.ts';

export interface SupervisorOptions {
  app: App;
  appModule: string;
  config: RuntimeConfig;
  log: Logger;
  /** Told of every ready and gone replica (besides the gateway, when there is one). */
  registry?: ReplicaRegistry;
  /** Runs the gateway process on PORT in front of the pools. @default false */
  gateway?: boolean;
  /** Where replicas' tagged log lines go. @default process.stdout */
  out?: Writable;
}

/** A task pool scales on queue depth: a worker carries one task at a time. */
const TASK_TARGETS = { inFlight: 1, eventLoop: 1 };

export class Supervisor {
  readonly #options: SupervisorOptions;
  /** What runs on this node: every service, unless `--only` or `--gateway-only` says otherwise. */
  readonly #services: App['services'];
  #store: StoreBackend | undefined;
  #hub: IpcHub | undefined;
  #pools: ServicePool[] = [];
  #tasks: TaskBroker | undefined;
  #gateway: GatewayProcess | undefined;
  /** Where replicas learn of each other, for calls between services. */
  readonly #directory = new ReplicaDirectory();
  #socketDir: string | undefined;
  #address: GatewayAddress | undefined;
  readonly #autoscaler: Autoscaler;
  readonly #decisions: DecisionLog;
  #loop: ScaleLoop | undefined;
  #admin: AdminServer | undefined;
  /** The NATS every node shares, when set: this node's heartbeats and the others'. */
  #nats: NatsConnection | undefined;
  #nodes: NatsDirectory | undefined;
  readonly #node: { id: string; startedAt: string };
  /**
   * Where the others reach this node's gateway and its node listener (both bound to one host):
   * known once the gateway listens, read at each heartbeat.
   */
  #reachable: { address: string; nodeAddress?: string } | undefined;
  /** Replicas the gateway reports unhealthy, to the timer that replaces them. */
  readonly #unhealthy = new Map<string, NodeJS.Timeout>();
  #announcing = false;
  /** Every process's metrics of this node, served on the admin listener. */
  readonly #metrics = new Metrics();
  readonly #gatherer = new MetricsGatherer(this.#metrics);
  #adminListener: AdminListener | undefined;
  #adminUrl: string | undefined;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    const { app, config } = options;
    this.#node = { id: config.CLEAVE_NODE_ID ?? nodeId(), startedAt: new Date().toISOString() };
    this.#services = servicesOfThisNode(app, config);
    const floor = this.#services.reduce(
      (sum, service) => sum + this.#scaleOf(service).min + (service.tasks.size > 0 ? 1 : 0),
      0,
    );
    // Room for one process per core above the pools' floors, unless told otherwise; never
    // less than the floors themselves.
    const budget = config.CLEAVE_REPLICA_BUDGET || app.replicaBudget || floor + availableParallelism();
    const taskPools = this.#services.filter((service) => service.tasks.size > 0).length;
    // CPU-bound workers on every core take it from the processes answering requests: one
    // core stays theirs. Never fewer than one worker per task pool.
    const taskWorkers = Math.max(config.CLEAVE_TASK_WORKERS || availableParallelism() - 1, taskPools, 1);
    this.#autoscaler = new Autoscaler({
      budget: Math.max(budget, floor),
      groupBudgets: { tasks: taskWorkers },
      ...(config.CLEAVE_SCALE_DOWN_AFTER_MS === undefined ? {} : { downAfterMs: config.CLEAVE_SCALE_DOWN_AFTER_MS }),
    });
    this.#decisions = new DecisionLog(options.log);
    this.#metrics.observePools(() => this.#poolStatuses());
  }

  /** The admin listener's URL (`/metrics`), once it listens. */
  get adminUrl(): string | undefined {
    return this.#adminUrl;
  }

  /** The services this node runs. */
  get services(): App['services'] {
    return this.#services;
  }

  get pools(): readonly ServicePool[] {
    return this.#pools;
  }

  /** Resolves once every pool is ready and the gateway (if any) listens, with its address. */
  async start(): Promise<GatewayAddress | undefined> {
    const { app, appModule, config, log, out } = this.#options;
    app.config?.load();
    // PostgreSQL: replicas open it themselves, but the supervisor makes every service's
    // schema once, and an unreachable server stops the start before anything is forked.
    // It makes a role per service too, where it may: each service's replicas then connect as
    // their own, which reaches only their own schema.
    const backend = storeOf(
      config,
      log,
      app.services.map((service) => service.name),
      { serviceRoles: true },
    );
    this.#store = coalesceReads(backend);
    await this.#store.start();
    // Each service's processes get their own role's URL; the gateway opens no store, so it
    // gets no URL at all.
    const storeEnvOf = (service: string): NodeJS.ProcessEnv =>
      backend instanceof PostgresStore ? { CLEAVE_STORE: backend.urlFor(service) } : {};
    const gatewayStoreEnv: NodeJS.ProcessEnv = backend instanceof PostgresStore ? { CLEAVE_STORE: 'memory' } : {};
    // Redis and NATS likewise: every process connects itself, but none is forked if one of
    // them can't be reached. The supervisor keeps NATS for the node's heartbeats and for
    // the tasks, which wait in JetStream for the task workers of every node.
    const redis = redisOf(config, log, app.name);
    this.#nats = natsOf(config, log, 'supervisor');
    await startAll(redis, this.#nats);
    await stopAll(redis);
    const secret = config.CLEAVE_SECRET ?? randomBytes(32).toString('base64url');
    this.#socketDir = await makeSocketDir();
    // One secret for every process, so a session made by one replica is valid at another.
    // The socket folder, so the children remove it if this process dies without doing so.
    const env = { CLEAVE_SECRET: secret, [SOCKET_DIR_ENV]: this.#socketDir };
    this.#tasks = new TaskBroker({
      app,
      services: this.#services.map((service) => service.name),
      appModule,
      log,
      maxQueue: config.CLEAVE_TASK_QUEUE_MAX,
      env,
      envOf: storeEnvOf,
      metrics: this.#gatherer,
      canGrow: (service, size) =>
        config.CLEAVE_AUTOSCALE && size < this.#autoscaler.maxOf(this.#policyOf(`${service}/tasks`), 'tasks'),
      ...(out ? { out } : {}),
      ...(this.#nats
        ? {
            nats: {
              connection: this.#nats,
              ackWaitMs: config.CLEAVE_TASK_ACK_WAIT_MS,
              maxDeliveries: config.CLEAVE_TASK_MAX_DELIVERIES,
            },
          }
        : {}),
    });
    this.#hub = new IpcHub({
      serves: [
        serveStore(this.#store),
        serveLock(new MemoryLock()),
        serveTasks(this.#tasks),
        serveRateCounters(new MemoryRateCounters()),
      ],
      log,
    });
    if (this.#options.gateway) {
      this.#gateway = new GatewayProcess({
        appModule,
        hub: this.#hub,
        log,
        // The gateway names this node in sticky cookies across nodes (gateway/affinity.ts).
        env: { ...env, ...gatewayStoreEnv, CLEAVE_NODE_ID: this.#node.id },
        ...(out ? { out } : {}),
        onHealth: (service, id, healthy) => this.#healthChanged(service, id, healthy),
        metrics: this.#gatherer,
      });
    }
    // The other nodes hear at once that a pool lost its last replica or got one back.
    const announcer: ReplicaRegistry = { ready: () => this.#announce(), gone: () => this.#announce() };
    const registry = bothOf(
      this.#gateway,
      bothOf(this.#directory, bothOf(this.#options.registry, this.#nats ? announcer : undefined)),
    );
    for (const service of this.#services) {
      this.#pools.push(
        new ServicePool({
          service: service.name,
          replicas: this.#scaleOf(service).min,
          appModule,
          socketDir: this.#socketDir,
          hub: this.#hub,
          registry,
          directory: this.#directory,
          log,
          env: { ...env, ...storeEnvOf(service.name) },
          drainGraceMs: config.CLEAVE_STOP_GRACE_MS,
          metrics: this.#gatherer,
          ...(out ? { out } : {}),
        }),
      );
    }
    // The gateway loads (a second or so) while the replicas do, and listens once they are ready.
    const listening = this.#gateway?.start();
    // A gateway that dies while the pools start (it can't load the app, say) fails the start
    // at once, as its one line, rather than as an unhandled rejection once they are ready.
    const gatewayFailed = new Promise<never>((_, reject) => listening?.catch(reject));
    gatewayFailed.catch(() => {}); // a failure after the race below is read by `await listening`
    try {
      await Promise.race([
        Promise.all([...this.#pools.map((pool) => pool.start()), this.#tasks.start()]),
        gatewayFailed,
      ]);
    } catch (error) {
      listening?.catch(() => {}); // the start failed already; its own failure is moot
      throw error;
    }
    this.#gateway?.open();
    this.#address = await listening;
    const bound = this.#address;
    this.#reachable = bound && {
      address: reachableAddress(bound.host, bound.port),
      ...(bound.nodePort === undefined ? {} : { nodeAddress: reachableAddress(bound.host, bound.nodePort) }),
    };
    if (this.#address) {
      this.#admin = new AdminServer(this.#address.port, () => this.status());
      await this.#admin.listen();
    }
    this.#adminListener = new AdminListener({
      host: config.CLEAVE_ADMIN_HOST,
      port: config.CLEAVE_ADMIN_PORT,
      log,
      metrics: () => this.#gatherer.exposition(),
      dashboard: new Dashboard(
        {
          app: app.name,
          metrics: () => this.#gatherer.snapshot(),
          status: () => this.status(),
          errors: () => this.#gatherer.recentErrors(),
        },
        log,
      ),
    });
    this.#adminUrl = urlOf(await this.#adminListener.listen());
    // Heard by the other nodes only once it serves: a node in the list takes requests.
    if (this.#nats) {
      this.#nodes = new NatsDirectory(this.#nats, { app: app.name, self: () => this.#nodeInfo(), log });
      this.#nodes.start();
    }
    if (config.CLEAVE_AUTOSCALE) {
      this.#loop = new ScaleLoop({
        pools: [...this.#pools, ...this.#tasks.pools],
        policyOf: (key) => this.#policyOf(key),
        autoscaler: this.#autoscaler,
        decisions: this.#decisions,
        log,
        intervalMs: config.CLEAVE_SCALE_INTERVAL_MS,
      });
      this.#loop.start();
    }
    return this.#address;
  }

  /** Every pool as `cleave status` shows it. */
  status(): AppStatus {
    return {
      app: this.#options.app.name,
      pid: process.pid,
      port: this.#address?.port,
      autoscale: this.#loop !== undefined,
      replicaBudget: this.#autoscaler.budget,
      pools: this.#poolStatuses(),
      decisions: this.#decisions.recent(),
      nodes: this.#nodes?.nodes() ?? [{ ...this.#nodeInfo(), lastSeen: new Date().toISOString(), self: true }],
      ...(this.#gateway?.cacheStats ? { cache: this.#gateway.cacheStats } : {}),
      ...(this.#adminUrl ? { admin: this.#adminUrl } : {}),
    };
  }

  /** Each pool as `cleave status` and the metrics show it. */
  #poolStatuses(): PoolStatus[] {
    const common = (key: string) => {
      const policy = this.#policyOf(key);
      return {
        policy,
        max: this.#autoscaler.maxOf(policy, key.endsWith('/tasks') ? 'tasks' : undefined),
        desired: this.#loop?.desiredOf(key),
        scaled: this.#decisions.countsOf(key),
        downAfterMs: this.#options.config.CLEAVE_SCALE_DOWN_AFTER_MS ?? policy.downAfterMs,
      };
    };
    return [
      ...this.#pools.map((pool) => poolStatus({ ...common(pool.key), pool, kind: 'requests', queueDepth: 0 })),
      ...(this.#tasks?.pools ?? []).map((pool) =>
        poolStatus({
          ...common(pool.key),
          pool,
          kind: 'tasks',
          queueDepth: pool.queueDepth,
          inFlight: pool.running,
          standby: pool.standbyCount,
        }),
      ),
    ];
  }

  /** One heartbeat now for any number of changes in this turn, once the pools counted them. */
  #announce(): void {
    if (this.#announcing) return;
    this.#announcing = true;
    setImmediate(() => {
      this.#announcing = false;
      this.#nodes?.announce();
    });
  }

  /** This node as the others (and `cleave status`) see it. */
  #nodeInfo(): NodeInfo {
    return {
      ...this.#node,
      // A node without a gateway (none yet, or none at all) is named by its machine's address.
      ...(this.#reachable ?? { address: nodeAddress(undefined) }),
      pid: process.pid,
      pools: this.#poolCounts(),
    };
  }

  /** Each pool's processes, ready and in all. */
  #poolCounts(): NodeInfo['pools'] {
    return [
      ...this.#pools.map((pool) => ({
        service: pool.service,
        kind: 'requests' as const,
        ready: pool.readyCount,
        now: pool.size,
      })),
      ...(this.#tasks?.pools ?? []).map((pool) => ({
        service: pool.service,
        kind: 'tasks' as const,
        ready: pool.readyCount,
        now: pool.size,
      })),
    ];
  }

  /** The service's own scale, unless CLEAVE_POOL_REPLICAS pins every pool of this node. */
  #scaleOf(service: App['services'][number]): ScalePolicy {
    const pinned = this.#options.config.CLEAVE_POOL_REPLICAS;
    return pinned === undefined ? service.scale : { ...service.scale, min: pinned, max: pinned };
  }

  /** A request pool's is its service's; a task pool's keeps the floor at one warm worker. */
  #policyOf(key: string): ScalePolicy {
    const [name, kind] = key.split('/');
    const service = this.#options.app.services.find((candidate) => candidate.name === name);
    if (!service) throw new RangeError(`no service ${name}`);
    if (kind !== 'tasks') return this.#scaleOf(service);
    return { min: 1, max: Infinity, target: TASK_TARGETS, downAfterMs: service.scale.downAfterMs };
  }

  /**
   * Stops the gateway (it finishes the requests in flight), then every replica (each drains)
   * and task worker, then the hub, then flushes the store. Safe after a partial start.
   */
  async stop(graceMs = this.#options.config.CLEAVE_STOP_GRACE_MS): Promise<void> {
    this.#loop?.stop();
    // Out of the other nodes' lists at once: it is about to stop serving.
    await this.#nodes?.stop();
    await this.#admin?.close();
    await this.#adminListener?.close();
    for (const timer of this.#unhealthy.values()) clearTimeout(timer);
    this.#unhealthy.clear();
    await this.#gateway?.stop(graceMs);
    await Promise.all(this.#pools.map((pool) => pool.stop(graceMs)));
    await this.#tasks?.stop(graceMs);
    await this.#hub?.stop();
    await this.#store?.stop();
    await this.#nats?.stop();
    if (this.#socketDir) await rm(this.#socketDir, { recursive: true, force: true });
  }

  #healthChanged(service: string, id: string, healthy: boolean): void {
    clearTimeout(this.#unhealthy.get(id));
    this.#unhealthy.delete(id);
    const after = this.#options.config.CLEAVE_UNHEALTHY_RESTART_MS;
    if (healthy || after === 0) return;
    const timer = setTimeout(() => {
      this.#unhealthy.delete(id);
      this.#options.log.warn({ service, replica: id, unhealthyMs: after }, 'replica unhealthy too long: replacing it');
      this.#pools.find((pool) => pool.service === service)?.replace(id);
    }, after);
    timer.unref();
    this.#unhealthy.set(id, timer);
  }
}

function bothOf(first: ReplicaRegistry | undefined, second: ReplicaRegistry | undefined): ReplicaRegistry {
  return {
    ready(service, replica) {
      first?.ready(service, replica);
      second?.ready(service, replica);
    },
    gone(service, id) {
      first?.gone(service, id);
      second?.gone(service, id);
    },
    async drain(service, id) {
      await Promise.all([first?.drain?.(service, id), second?.drain?.(service, id)]);
    },
  };
}
