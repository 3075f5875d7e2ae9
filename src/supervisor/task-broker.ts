// The supervisor's TaskQueue when split: each task goes to the worker pool of the service
// that declares it, and jobs (enqueue / job) are kept here, so any replica can read a job
// that another one started. Replicas reach it over IPC (queue/ipc.ts).

import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { findTask, type App } from '../app/app.ts';
import { TaskNotFoundError } from '../errors.ts';
import { JobTable } from '../queue/jobs.ts';
import type { Job, TaskQueue } from '../queue/types.ts';
import { TaskPool } from './task-pool.ts';

export interface TaskBrokerOptions {
  app: App;
  appModule: string;
  log: Logger;
  /** Per service. */
  maxQueue: number;
  out?: Writable;
  env?: NodeJS.ProcessEnv;
  /** What a service's task workers get besides `env` (its store role's URL). */
  envOf?: (service: string) => NodeJS.ProcessEnv;
  /** May the service's task pool grow past `size`? Then it keeps a standby worker. */
  canGrow?: (service: string, size: number) => boolean;
}

export class TaskBroker implements TaskQueue {
  /** One per service that declares tasks. */
  readonly pools: readonly TaskPool[];
  readonly #app: App;
  readonly #jobs = new JobTable({
    admit: (task) => this.#poolOf(task).admit(task),
    run: (task, input) => this.run(task, input),
  });

  constructor(options: TaskBrokerOptions) {
    this.#app = options.app;
    this.pools = options.app.services
      .filter((service) => service.tasks.size > 0)
      .map(
        (service) =>
          new TaskPool({
            service: service.name,
            appModule: options.appModule,
            log: options.log,
            maxQueue: options.maxQueue,
            ...(options.canGrow ? { canGrow: (size: number) => options.canGrow?.(service.name, size) ?? false } : {}),
            ...(options.out ? { out: options.out } : {}),
            env: { ...options.env, ...options.envOf?.(service.name) },
          }),
      );
  }

  async start(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.start()));
  }

  async stop(graceMs = 10_000): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.stop(graceMs)));
  }

  async run(task: string, input: unknown): Promise<unknown> {
    return this.#poolOf(task).run(task, input);
  }

  async enqueue(task: string, input: unknown): Promise<Job> {
    return this.#jobs.enqueue(task, input);
  }

  async job(id: string): Promise<Job | undefined> {
    return this.#jobs.get(id);
  }

  #poolOf(task: string): TaskPool {
    const definition = findTask(this.#app, task);
    const pool = definition && this.pools.find((candidate) => candidate.service === definition.service);
    if (!pool) throw new TaskNotFoundError(`no task "${task}" in app ${this.#app.name}`);
    return pool;
  }
}
