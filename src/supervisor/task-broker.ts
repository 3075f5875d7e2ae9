// The supervisor's TaskQueue when split: each task goes to the worker pool of the service
// that declares it, and jobs (enqueue / job) are kept here, so any replica can read a job
// that another one started. Replicas reach it over IPC (queue/ipc.ts).
//
// With a NATS every node shares, the queue and the jobs are JetStream's instead
// (queue/jetstream-queue.ts): tasks submitted here wait there, and a feeder per pool
// (queue/jetstream-feeder.ts) takes them for this node's workers while they have room, so
// the workers of every node serve one queue and a node that dies loses no task.

import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { findTask, type App } from '../app/app.ts';
import { TaskNotFoundError } from '../errors.ts';
import type { NatsConnection } from '../nats/connection.ts';
import { TaskFeeder } from '../queue/jetstream-feeder.ts';
import { JetStreamQueue } from '../queue/jetstream-queue.ts';
import { JobTable } from '../queue/jobs.ts';
import type { Job, RunOptions, TaskQueue } from '../queue/types.ts';
import { TaskPool } from './task-pool.ts';
import type { MetricsGatherer } from '../observability/metrics-gatherer.ts';

export interface TaskBrokerOptions {
  app: App;
  /** Gathers the metrics its processes report. */
  metrics?: MetricsGatherer;
  /**
   * The services whose tasks this node's workers run. @default every one. With a shared
   * queue (NATS), a task of another service waits there for the node that runs it.
   */
  services?: readonly string[];
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
  /** The NATS every node shares: tasks and jobs then live in its JetStream. */
  nats?: { connection: NatsConnection; ackWaitMs: number; maxDeliveries: number };
}

export class TaskBroker implements TaskQueue {
  /** One per service that declares tasks. */
  readonly pools: readonly TaskPool[];
  readonly #app: App;
  /** Where tasks wait: each pool's own queue, or JetStream's when nodes share a NATS. */
  readonly #queue: TaskQueue;
  readonly #feeders = new Map<string, TaskFeeder>();

  constructor(options: TaskBrokerOptions) {
    this.#app = options.app;
    const { nats } = options;
    const shared =
      nats &&
      new JetStreamQueue({
        app: options.app,
        nats: nats.connection,
        log: options.log,
        maxQueue: options.maxQueue,
        ackWaitMs: nats.ackWaitMs,
        maxDeliveries: nats.maxDeliveries,
      });
    const here = new Set(options.services ?? options.app.services.map((service) => service.name));
    this.pools = options.app.services
      .filter((service) => service.tasks.size > 0 && here.has(service.name))
      .map(
        (service) =>
          new TaskPool({
            service: service.name,
            appModule: options.appModule,
            log: options.log,
            maxQueue: options.maxQueue,
            ...(options.canGrow ? { canGrow: (size: number) => options.canGrow?.(service.name, size) ?? false } : {}),
            ...(options.out ? { out: options.out } : {}),
            ...(options.metrics ? { metrics: options.metrics } : {}),
            env: { ...options.env, ...options.envOf?.(service.name) },
            // JetStream delivers a task again when its worker dies: that is the retry.
            ...(shared ? { maxAttempts: 1, backlog: () => this.#feeders.get(service.name)?.backlog ?? 0 } : {}),
          }),
      );
    if (nats && shared) {
      for (const pool of this.pools) {
        const feeder = new TaskFeeder({
          service: pool.service,
          queue: shared,
          executor: pool,
          log: options.log,
          ackWaitMs: nats.ackWaitMs,
          maxDeliveries: nats.maxDeliveries,
        });
        this.#feeders.set(pool.service, feeder);
      }
    }
    this.#queue = shared ?? new LocalQueue((task) => this.#poolOf(task));
  }

  async start(): Promise<void> {
    await this.#queue.start();
    await Promise.all(this.pools.map((pool) => pool.start()));
    for (const feeder of this.#feeders.values()) feeder.start();
  }

  /**
   * Takes no more tasks from a shared queue, lets the running ones finish (up to `graceMs`;
   * a task cut short goes back to the shared queue), then stops the workers.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const feeders = [...this.#feeders.values()];
    await Promise.all(feeders.map((feeder) => feeder.stopTaking()));
    await Promise.all(this.pools.map((pool) => pool.stop(graceMs)));
    await Promise.all(feeders.map((feeder) => feeder.stop()));
    await this.#queue.stop();
  }

  run(task: string, input: unknown, options?: RunOptions): Promise<unknown> {
    return this.#queue.run(task, input, options);
  }

  enqueue(task: string, input: unknown): Promise<Job> {
    return this.#queue.enqueue(task, input);
  }

  job(id: string): Promise<Job | undefined> {
    return this.#queue.job(id);
  }

  #poolOf(task: string): TaskPool {
    const definition = findTask(this.#app, task);
    const pool = definition && this.pools.find((candidate) => candidate.service === definition.service);
    if (!pool) throw new TaskNotFoundError(`no task "${task}" in app ${this.#app.name}`);
    return pool;
  }
}

/** The queue of one node alone: each pool's own, and the jobs in this process. */
class LocalQueue implements TaskQueue {
  readonly #poolOf: (task: string) => TaskPool;
  readonly #jobs: JobTable;

  constructor(poolOf: (task: string) => TaskPool) {
    this.#poolOf = poolOf;
    this.#jobs = new JobTable({
      admit: (task) => poolOf(task).admit(task),
      run: (task, input) => this.run(task, input),
    });
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async run(task: string, input: unknown, options?: RunOptions): Promise<unknown> {
    return this.#poolOf(task).run(task, input, options?.trace);
  }

  async enqueue(task: string, input: unknown): Promise<Job> {
    return this.#jobs.enqueue(task, input);
  }

  async job(id: string): Promise<Job | undefined> {
    return this.#jobs.get(id);
  }
}
