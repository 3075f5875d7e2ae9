// Monolith mode: every service of the app in this one process, behind the
// same request pipeline the gateway uses when split. Start order builds the
// ports first and opens the port last; stop runs it backwards.

import type { AddressInfo } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { App } from '../app/app.ts';
import { MemoryBus } from '../bus/memory.ts';
import type { Bus } from '../bus/types.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { CronScheduler } from '../cron/scheduler.ts';
import { Authenticator } from '../http/auth.ts';
import { createRequestHandler } from '../http/request-handler.ts';
import { Router } from '../http/router.ts';
import { HttpServer } from '../http/server.ts';
import { SocketHub } from '../http/websocket.ts';
import { MemoryLock } from '../lock/memory.ts';
import { WorkerTaskQueue } from '../queue/worker-pool.ts';
import type { TaskQueue } from '../queue/types.ts';
import { coalesceReads } from '../store/coalesce.ts';
import { FileStore } from '../store/file.ts';
import { MemoryStore } from '../store/memory.ts';
import type { StoreBackend } from '../store/types.ts';
import { ServiceContexts } from './service-contexts.ts';

export interface MonolithOptions {
  app: App;
  /** Path of the module whose default export is `app`: task workers load it. */
  appModule: string;
  config: RuntimeConfig;
  log: Logger;
}

export class Monolith {
  private bus: Bus | undefined;
  private store: StoreBackend | undefined;
  private queue: TaskQueue | undefined;
  private cron: CronScheduler | undefined;
  private server: HttpServer | undefined;
  private unsubscribers: Array<() => void> = [];

  constructor(private readonly options: MonolithOptions) {}

  async start(): Promise<AddressInfo> {
    const { app, config, log } = this.options;
    // Everything that can refuse the configuration runs before anything starts.
    app.config?.load();
    const auth = new Authenticator(config.CLEAVE_SECRET === undefined ? {} : { secret: config.CLEAVE_SECRET });
    if (auth.ephemeral) log.warn('CLEAVE_SECRET is not set: sessions use a random key and end when the process stops');
    const router = new Router(app);

    this.bus = new MemoryBus({
      onListenerError: (error, topic) => log.error({ err: error, topic }, 'event listener failed'),
    });
    await this.bus.start();
    this.store = coalesceReads(this.createStore());
    await this.store.start();
    this.queue = new WorkerTaskQueue({
      app,
      appModule: this.options.appModule,
      log,
      stopTimeoutMs: config.CLEAVE_STOP_GRACE_MS,
      ...(config.CLEAVE_TASK_THREADS > 0 ? { maxThreads: config.CLEAVE_TASK_THREADS } : {}),
    });
    await this.queue.start();

    const contexts = new ServiceContexts({ bus: this.bus, store: this.store, queue: this.queue }, log);
    for (const service of app.services) {
      const context = contexts.for(service.name);
      for (const listener of service.listeners) {
        this.unsubscribers.push(this.bus.subscribe(listener.topic, (payload) => listener.handler(payload, context)));
      }
    }
    this.cron = new CronScheduler({ lock: new MemoryLock(), log, contextFor: (service) => contexts.for(service) });
    this.cron.start(app.services.flatMap((service) => service.crons));

    const contextFor = (service: string) => contexts.for(service);
    const hub = new SocketHub({ router, auth, bus: this.bus, log, contextFor });
    this.server = new HttpServer({
      pipeline: createRequestHandler({ router, auth, log, contextFor, accessLog: config.CLEAVE_ACCESS_LOG }),
      hub,
      log,
      port: config.PORT,
      host: config.HOST,
    });
    return this.server.listen();
  }

  /** Safe after a partial start: each part stops only if it was started. */
  async stop(): Promise<void> {
    const { config } = this.options;
    await this.server?.stop(config.CLEAVE_STOP_GRACE_MS);
    await this.cron?.stop();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    await this.queue?.stop();
    await this.bus?.stop();
    await this.store?.stop();
  }

  private createStore(): StoreBackend {
    const { config, log } = this.options;
    if (config.CLEAVE_STORE === 'memory') return new MemoryStore();
    const dir = isAbsolute(config.CLEAVE_DATA_DIR) ? config.CLEAVE_DATA_DIR : resolve(config.CLEAVE_DATA_DIR);
    return new FileStore({ dir, log });
  }
}
