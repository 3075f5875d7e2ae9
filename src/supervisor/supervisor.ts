// The control plane of a split app: owns the one store and the locks, is the
// event hub, and runs each service as a pool of replica processes. Replicas
// reach it over IPC; a registry (the gateway) learns where to send traffic.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { App } from '../app/app.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { IpcHub } from '../ipc/hub.ts';
import { MemoryLock } from '../lock/memory.ts';
import { embeddedStore } from '../runtime/ports.ts';
import { coalesceReads } from '../store/coalesce.ts';
import type { StoreBackend } from '../store/types.ts';
import { type ReplicaRegistry, ServicePool } from './service-pool.ts';

export interface SupervisorOptions {
  app: App;
  appModule: string;
  config: RuntimeConfig;
  log: Logger;
  registry: ReplicaRegistry;
  /** Where replicas' tagged log lines go. @default process.stdout */
  out?: Writable;
}

export class Supervisor {
  readonly #options: SupervisorOptions;
  #store: StoreBackend | undefined;
  #hub: IpcHub | undefined;
  #pools: ServicePool[] = [];
  #socketDir: string | undefined;

  constructor(options: SupervisorOptions) {
    this.#options = options;
  }

  get pools(): readonly ServicePool[] {
    return this.#pools;
  }

  /** Resolves once every replica of every pool is ready. */
  async start(): Promise<void> {
    const { app, appModule, config, log, registry, out } = this.#options;
    app.config?.load();
    this.#store = coalesceReads(embeddedStore(config, log));
    await this.#store.start();
    this.#hub = new IpcHub({ store: this.#store, lock: new MemoryLock(), log });
    // Unix socket paths are limited to ~107 bytes: a short folder under the system tmp.
    this.#socketDir = await mkdtemp(join(tmpdir(), 'cleave-'));
    const secret = config.CLEAVE_SECRET ?? randomBytes(32).toString('base64url');
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
        }),
      );
    }
    await Promise.all(this.#pools.map((pool) => pool.start()));
  }

  /** Stops every replica (each drains), then the hub, then flushes the store. Safe after a partial start. */
  async stop(graceMs = this.#options.config.CLEAVE_STOP_GRACE_MS): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.stop(graceMs)));
    await this.#hub?.stop();
    await this.#store?.stop();
    if (this.#socketDir) await rm(this.#socketDir, { recursive: true, force: true });
  }
}
