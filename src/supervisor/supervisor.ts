// The control plane of a split app: owns the one store and the locks, is the
// event hub, runs each service as a pool of replica processes, and runs the
// gateway process in front of them. Replicas and the gateway reach it over IPC;
// the gateway (and any other registry) learns where to send traffic, and tells
// it which replicas fail their health probes: one that stays unhealthy is
// replaced, as an orchestrator's liveness probe would.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { embeddedStore } from '../runtime/ports.ts';
import { coalesceReads } from '../store/coalesce.ts';
import type { StoreBackend } from '../store/types.ts';
import { type GatewayAddress, GatewayProcess } from './gateway-process.ts';
import { type ReplicaRegistry, ServicePool } from './service-pool.ts';
import { AdminServer } from './admin-server.ts';
import type { AppStatus } from './status.ts';

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

export class Supervisor {
  readonly #options: SupervisorOptions;
  #store: StoreBackend | undefined;
  #hub: IpcHub | undefined;
  #pools: ServicePool[] = [];
  #gateway: GatewayProcess | undefined;
  #socketDir: string | undefined;
  #address: GatewayAddress | undefined;
  readonly #autoscaler: Autoscaler;
  readonly #decisions: DecisionLog;
  #loop: ScaleLoop | undefined;
  #admin: AdminServer | undefined;
  /** Replicas the gateway reports unhealthy, to the timer that replaces them. */
  readonly #unhealthy = new Map<string, NodeJS.Timeout>();

  constructor(options: SupervisorOptions) {
    this.#options = options;
    const { app, config } = options;
    const floor = app.services.reduce((sum, service) => sum + service.scale.min, 0);
    // Room for one replica per core above the pools' floors, unless told otherwise; never
    // less than the floors themselves.
    const budget = config.CLEAVE_REPLICA_BUDGET || app.replicaBudget || floor + availableParallelism();
    this.#autoscaler = new Autoscaler({
      budget: Math.max(budget, floor),
      ...(config.CLEAVE_SCALE_DOWN_AFTER_MS === undefined ? {} : { downAfterMs: config.CLEAVE_SCALE_DOWN_AFTER_MS }),
    });
    this.#decisions = new DecisionLog(options.log);
  }

  get pools(): readonly ServicePool[] {
    return this.#pools;
  }

  /** Resolves once every replica of every pool is ready and the gateway (if any) listens, with its address. */
  async start(): Promise<GatewayAddress | undefined> {
    const { app, appModule, config, log, out } = this.#options;
    app.config?.load();
    this.#store = coalesceReads(embeddedStore(config, log));
    await this.#store.start();
    this.#hub = new IpcHub({ store: this.#store, lock: new MemoryLock(), log });
    // Unix socket paths are limited to ~107 bytes: a short folder under the system tmp.
    this.#socketDir = await mkdtemp(join(tmpdir(), 'cleave-'));
    const secret = config.CLEAVE_SECRET ?? randomBytes(32).toString('base64url');
    if (this.#options.gateway) {
      this.#gateway = new GatewayProcess({
        appModule,
        hub: this.#hub,
        log,
        ...(out ? { out } : {}),
        env: { CLEAVE_SECRET: secret },
        onHealth: (service, id, healthy) => this.#healthChanged(service, id, healthy),
      });
    }
    const registry = bothOf(this.#gateway, this.#options.registry);
    for (const service of app.services) {
      this.#pools.push(
        new ServicePool({
          service: service.name,
          replicas: service.scale.min,
          appModule,
          socketDir: this.#socketDir,
          hub: this.#hub,
          registry,
          log,
          ...(out ? { out } : {}),
          // One secret for every replica, so a session made by one is valid at another.
          env: { CLEAVE_SECRET: secret },
          drainGraceMs: config.CLEAVE_STOP_GRACE_MS,
        }),
      );
    }
    // The gateway loads (a second or so) while the replicas do, and listens once they are ready.
    const listening = this.#gateway?.start();
    try {
      await Promise.all(this.#pools.map((pool) => pool.start()));
    } catch (error) {
      listening?.catch(() => {}); // the start failed already; its own failure is moot
      throw error;
    }
    this.#gateway?.open();
    this.#address = await listening;
    if (this.#address) {
      this.#admin = new AdminServer(this.#address.port, () => this.status());
      await this.#admin.listen();
    }
    if (config.CLEAVE_AUTOSCALE) {
      this.#loop = new ScaleLoop({
        pools: this.#pools,
        policyOf: (service) => this.#policyOf(service),
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
    const { app, config } = this.#options;
    return {
      app: app.name,
      pid: process.pid,
      port: this.#address?.port,
      autoscale: this.#loop !== undefined,
      replicaBudget: this.#autoscaler.budget,
      pools: this.#pools.map((pool) => {
        const policy = this.#policyOf(pool.service);
        const loads = pool.loads();
        return {
          service: pool.service,
          kind: 'requests' as const,
          replicas: {
            ready: pool.readyCount,
            now: pool.size,
            desired: this.#loop?.desiredOf(pool.service) ?? pool.size,
            min: policy.min,
            max: this.#autoscaler.maxOf(policy),
          },
          inFlight: loads.reduce((sum, load) => sum + load.inFlight, 0),
          eventLoop:
            loads.length === 0
              ? 0
              : Number((loads.reduce((sum, load) => sum + load.eventLoop, 0) / loads.length).toFixed(3)),
          queueDepth: 0,
          target: policy.target,
          scaled: this.#decisions.countsOf(pool.service),
          downAfterMs: config.CLEAVE_SCALE_DOWN_AFTER_MS ?? policy.downAfterMs,
        };
      }),
      decisions: this.#decisions.recent(),
    };
  }

  #policyOf(service: string): ScalePolicy {
    const found = this.#options.app.services.find((candidate) => candidate.name === service);
    if (!found) throw new RangeError(`no service ${service}`);
    return found.scale;
  }

  /**
   * Stops the gateway (it finishes the requests in flight), then every replica (each drains),
   * then the hub, then flushes the store. Safe after a partial start.
   */
  async stop(graceMs = this.#options.config.CLEAVE_STOP_GRACE_MS): Promise<void> {
    this.#loop?.stop();
    await this.#admin?.close();
    for (const timer of this.#unhealthy.values()) clearTimeout(timer);
    this.#unhealthy.clear();
    await this.#gateway?.stop(graceMs);
    await Promise.all(this.#pools.map((pool) => pool.stop(graceMs)));
    await this.#hub?.stop();
    await this.#store?.stop();
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
