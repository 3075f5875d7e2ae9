// One service's task workers when split: a bounded FIFO queue in the supervisor and a pool
// of worker processes (queue/task-process-main.ts) that take one task at a time. The
// autoscaler sizes the pool by queue depth (each worker is "in flight" 1 while busy, plus
// its share of what waits); a worker leaving finishes its task first. Tasks are pure, input
// to output, so one whose worker died is run again on another (`maxAttempts` in all) before
// it fails with TaskWorkerLostError. When the queue is JetStream's (queue/jetstream-feeder.ts),
// the tasks come one per free worker and the stream's own redelivery is the retry.
//
// While the pool may still grow, one more worker waits loaded and idle (a standby): a
// process takes a second or more to start on a machine already busy with a storm of work,
// so growing promotes the standby at once and starts the next standby in the background.

import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ReplicaLoad } from '../autoscale/autoscaler.ts';
import {
  type CleaveError,
  ShuttingDownError,
  TaskFailedError,
  TaskQueueFullError,
  TaskWorkerLostError,
} from '../errors.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import { fromWire } from '../shared/error-wire.ts';
import { ownModule } from '../runtime/typescript.ts';
import { LogRelay } from './log-relay.ts';
import { ManagedProcess } from './managed-process.ts';
import type { MetricsGatherer } from '../observability/metrics-gatherer.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

/** Longest a leaving worker may take to exit once its task is done. */
const LEAVING_GRACE_MS = 10_000;

const TASK_PROCESS_MAIN = ownModule(import.meta.url, '../queue/task-process-main');

export interface TaskPoolOptions {
  /** The service whose tasks this pool runs. */
  service: string;
  /** Gathers the metrics its processes report. */
  metrics?: MetricsGatherer;
  appModule: string;
  log: Logger;
  /** Tasks that may wait; one more is refused with TaskQueueFullError. */
  maxQueue: number;
  /** Workers started with the pool. @default 1 */
  min?: number;
  /** True while the pool may grow past its size: then it keeps one standby worker. @default never */
  canGrow?: (size: number) => boolean;
  /** Runs of one task, its first included, while its worker dies under it. @default 2 */
  maxAttempts?: number;
  /** Tasks waiting outside this pool for its workers (a shared queue's), for the autoscaler. */
  backlog?: () => number;
  out?: Writable;
  env?: NodeJS.ProcessEnv;
}

interface Pending {
  task: string;
  input: unknown;
  resolve(output: unknown): void;
  reject(error: CleaveError): void;
  attempts: number;
  trace: TraceCarrier | undefined;
}

interface Worker {
  index: number;
  managed: ManagedProcess;
  channel: IpcChannel | undefined;
  ready: boolean;
  leaving: boolean;
  /** Loaded and idle, outside the pool's size until promoted. */
  standby: boolean;
  /** The task it runs now, with the job number it was sent under. */
  current: { job: number; pending: Pending } | undefined;
}

export class TaskPool {
  /** The pool's name for the autoscaler and status: `auth/tasks`. */
  readonly key: string;
  readonly kind = 'tasks';
  readonly service: string;
  readonly #options: TaskPoolOptions;
  readonly #workers = new Map<string, Worker>();
  readonly #queue: Pending[] = [];
  readonly #firstReady = new Map<string, () => void>();
  #nextJob = 0;
  #stopping = false;

  constructor(options: TaskPoolOptions) {
    this.service = options.service;
    this.key = `${options.service}/tasks`;
    this.#options = options;
  }

  async start(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let added = 0; added < (this.#options.min ?? 1); added++) waits.push(this.#add());
    await Promise.all(waits);
    this.#keepStandby();
  }

  /** Refuses what is queued, lets running tasks finish (up to `graceMs`), then stops the workers. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const pending of this.#queue.splice(0)) {
      pending.reject(new ShuttingDownError(`stopping before task ${pending.task} ran`));
    }
    await Promise.all([...this.#workers.values()].map(({ managed }) => managed.stop(graceMs)));
  }

  /** Throws TaskQueueFullError (or ShuttingDownError) when a task would be refused now. */
  admit(task: string): void {
    if (this.#stopping) throw new ShuttingDownError(`stopping; task ${task} was not run`);
    if (this.#queue.length >= this.#options.maxQueue) {
      throw new TaskQueueFullError(
        `the ${this.service} task queue is full (${this.#options.maxQueue} waiting); ${task} was not run`,
      );
    }
  }

  /** `trace`: the submitting span's, which the task's span in its worker joins. */
  run(task: string, input: unknown, trace?: TraceCarrier): Promise<unknown> {
    this.admit(task);
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, input, trace, resolve, reject, attempts: 0 });
      this.#dispatch();
    });
  }

  /** Tasks waiting for these workers: here, and in the shared queue they take from. */
  get queueDepth(): number {
    return this.#queue.length + (this.#options.backlog?.() ?? 0);
  }

  get running(): number {
    let running = 0;
    for (const worker of this.#workers.values()) if (worker.current) running++;
    return running;
  }

  // ---- ScalablePool ----

  get size(): number {
    let size = 0;
    for (const worker of this.#workers.values()) if (this.#active(worker)) size++;
    return size;
  }

  get readyCount(): number {
    let ready = 0;
    for (const worker of this.#workers.values()) if (worker.ready && this.#active(worker)) ready++;
    return ready;
  }

  /** Workers loaded and waiting to be promoted. */
  get standbyCount(): number {
    let standby = 0;
    for (const worker of this.#workers.values()) if (worker.standby && !worker.leaving) standby++;
    return standby;
  }

  /** Busy workers count 1, and the waiting tasks are shared out: desired = running + queued. */
  loads(): ReplicaLoad[] {
    const ready = [...this.#workers.values()].filter((worker) => worker.ready && this.#active(worker));
    const share = ready.length === 0 ? 0 : this.queueDepth / ready.length;
    return ready.map((worker) => ({ inFlight: (worker.current ? 1 : 0) + share, eventLoop: 0 }));
  }

  async resize(size: number): Promise<void> {
    if (this.#stopping) return;
    while (this.size < size) {
      const standby = [...this.#workers.values()].find((worker) => worker.standby && !worker.leaving);
      if (standby) standby.standby = false;
      else void this.#add();
    }
    // Idle workers leave first, the newest of them first; a busy one leaves after its task.
    const staying = [...this.#workers.values()].filter((worker) => this.#active(worker));
    staying.sort((a, b) => Number(a.current !== undefined) - Number(b.current !== undefined) || b.index - a.index);
    const leaving = staying.slice(0, Math.max(0, this.size - size));
    for (const worker of leaving) worker.leaving = true;
    this.#dispatch();
    this.#keepStandby();
    const idle = leaving.filter((worker) => worker.current === undefined);
    await Promise.all(idle.map((worker) => worker.managed.stop(LEAVING_GRACE_MS)));
  }

  get pids(): Array<number | undefined> {
    return [...this.#workers.values()].map(({ managed }) => managed.pid);
  }

  #active(worker: Worker): boolean {
    return !worker.leaving && !worker.standby;
  }

  /** One standby while the pool may grow; none once it can't (its room is someone else's). */
  #keepStandby(): void {
    if (this.#stopping) return;
    const canGrow = this.#options.canGrow?.(this.size) ?? false;
    const standbys = [...this.#workers.values()].filter((worker) => worker.standby && !worker.leaving);
    if (canGrow && standbys.length === 0) void this.#add(true);
    if (!canGrow) {
      for (const worker of standbys) {
        worker.leaving = true;
        void worker.managed.stop(LEAVING_GRACE_MS);
      }
    }
  }

  #dispatch(): void {
    for (const worker of this.#workers.values()) {
      if (this.#queue.length === 0) return;
      if (!worker.ready || !this.#active(worker) || worker.current || !worker.channel || worker.channel.closed)
        continue;
      const pending = this.#queue.shift() as Pending;
      const job = ++this.#nextJob;
      worker.current = { job, pending };
      pending.attempts += 1;
      try {
        worker.channel.send({
          cleave: PROTOCOL_VERSION,
          type: 'task-run',
          job,
          task: pending.task,
          input: pending.input,
          ...(pending.trace === undefined ? {} : { trace: pending.trace }),
        });
      } catch (cause) {
        worker.current = undefined;
        pending.reject(
          new TaskFailedError(pending.task, 'its input cannot cross to a worker (not structured-cloneable)', { cause }),
        );
      }
    }
  }

  #add(standby = false): Promise<void> {
    let index = 1;
    const taken = new Set([...this.#workers.values()].map((worker) => worker.index));
    while (taken.has(index)) index++;
    const id = `${this.key}#${index}`;
    const ready = new Promise<void>((resolve) => this.#firstReady.set(id, resolve));
    const worker: Worker = {
      index,
      managed: this.#process(id, index),
      channel: undefined,
      ready: false,
      leaving: false,
      standby,
      current: undefined,
    };
    this.#workers.set(id, worker);
    worker.managed.start();
    return ready;
  }

  #process(id: string, index: number): ManagedProcess {
    const { log } = this.#options;
    return new ManagedProcess({
      role: id,
      entry: TASK_PROCESS_MAIN,
      env: { ...this.#options.env, CLEAVE_SERVICE: this.service, CLEAVE_APP_MODULE: this.#options.appModule },
      onSpawn: (child) => {
        const relay = new LogRelay(this.#options.out ?? process.stdout, {
          tags: { service: this.service, taskWorker: index },
        });
        void relay.relay({ stdout: child.stdout, stderr: child.stderr });
        const worker = this.#workers.get(id);
        if (!worker || !child.channel) return;
        worker.channel = child.channel;
        this.#options.metrics?.watch(child.channel, {
          replica: id,
          service: this.service,
          ...(child.pid ? { pid: child.pid } : {}),
        });
        child.channel.onMessage((message) => this.#onMessage(id, message));
      },
      onEvent: (event) => {
        if (event.type === 'exited') this.#exited(id, event.expected, event.code, event.signal);
        else if (event.type === 'gave-up') {
          log.error({ worker: id, crashes: event.crashes }, 'task worker keeps crashing; gave up');
          this.#firstReady.get(id)?.();
          this.#firstReady.delete(id);
          this.#failIfNoWorker();
        }
      },
    });
  }

  #onMessage(id: string, message: unknown): void {
    const worker = this.#workers.get(id);
    if (!worker || !isIpcMessage(message)) return;
    if (message.type === 'ready') {
      worker.ready = true;
      this.#firstReady.get(id)?.();
      this.#firstReady.delete(id);
      this.#dispatch();
      return;
    }
    if (message.type !== 'task-result' || worker.current?.job !== message.job) return;
    const { pending } = worker.current;
    worker.current = undefined;
    if (message.ok) pending.resolve(message.output);
    else pending.reject(fromWire(message.error));
    if (worker.leaving && !this.#stopping) void worker.managed.stop(LEAVING_GRACE_MS);
    this.#dispatch();
  }

  #exited(id: string, expected: boolean, code: number | null, signal: NodeJS.Signals | null): void {
    const worker = this.#workers.get(id);
    if (!worker) return;
    worker.ready = false;
    worker.channel = undefined;
    const lost = worker.current?.pending;
    worker.current = undefined;
    if (lost) {
      // Pure input → output: safe to run again on another worker.
      if (lost.attempts < (this.#options.maxAttempts ?? 2) && !this.#stopping) this.#queue.unshift(lost);
      else lost.reject(new TaskWorkerLostError(lost.task, `its worker died (${lost.attempts} times)`));
    }
    if (worker.leaving && !this.#stopping) this.#workers.delete(id);
    if (!expected) this.#options.log.warn({ worker: id, code, signal }, 'task worker exited');
    this.#dispatch();
  }

  /** With every worker given up, nothing would ever run what waits: fail it instead. */
  #failIfNoWorker(): void {
    const alive = [...this.#workers.values()].some((worker) => worker.managed.state !== 'gave-up');
    if (alive) return;
    for (const pending of this.#queue.splice(0)) {
      pending.reject(new TaskFailedError(pending.task, `no ${this.service} task worker could start`));
    }
  }
}
