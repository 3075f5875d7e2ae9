// The TaskQueue on worker threads of this process, so CPU-heavy work never
// stalls the event loop that answers requests. piscina owns the threads; this
// file owns what crosses the boundary: a task id and input in, an output or a
// failure (with its original message) out.

import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Piscina } from 'piscina';
import { loadOnUse } from '../shared/load-on-use.ts';
import type { Logger } from 'pino';
import { findTask, type App } from '../app/app.ts';
import { ShuttingDownError, TaskFailedError, TaskNotFoundError, TaskQueueFullError } from '../errors.ts';
import { JobTable } from './jobs.ts';
import type { Job, RunOptions, TaskQueue } from './types.ts';
import { settledWithin } from '../shared/settle-within.ts';
import { loaderFor, ownExecArgv, type TypeScriptSetting } from '../runtime/typescript.ts';
import { consuming } from '../observability/tracing.ts';

export interface WorkerTaskQueueOptions {
  /** Checked on the calling thread, so an unknown task id never reaches a worker. */
  app: App;
  /** Absolute path or file: URL of the module whose default export is `app`; every worker imports it. */
  appModule: string;
  /** How a TypeScript app is loaded in the workers (runtime/typescript.ts). @default 'auto' */
  typescript?: TypeScriptSetting;
  /** Workers started with the pool and kept warm. @default 1 */
  minThreads?: number;
  /** @default os.availableParallelism() */
  maxThreads?: number;
  /** How long a worker above minThreads may idle before it exits. @default 30000 */
  idleTimeoutMs?: number;
  /** Tasks that may wait for a free worker; one more and run() rejects with TaskQueueFullError. @default 1000 */
  maxQueue?: number;
  /** How long stop() waits for queued and running tasks before it terminates them. @default 30000 */
  stopTimeoutMs?: number;
  /** Where failures that belong to no task go (a worker dying between tasks). */
  log?: Logger;
}

/** What the main thread posts; task-worker.mjs reads it. */
interface TaskRequest {
  task: string;
  input: unknown;
}

/** What task-worker.mjs answers: failures come back as data, see its runTask. */
type TaskReply = { ok: true; output: unknown } | { ok: false; error: WireError };

interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

const WORKER_ENTRY = fileURLToPath(new URL('./task-worker.mjs', import.meta.url));

/** What a worker is told at start; task-worker.mjs reads it. */
export interface TaskWorkerData {
  appModule: string;
  /** Register tsx before importing the app. */
  tsx: boolean;
}

const piscina = loadOnUse<typeof import('piscina')>('piscina');

export class WorkerTaskQueue implements TaskQueue {
  readonly #options: WorkerTaskQueueOptions;
  readonly #appModuleUrl: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #pool: Piscina<TaskRequest, TaskReply> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #jobs = new JobTable({ admit: (task) => this.#admit(task), run: (task, input) => this.run(task, input) });

  constructor(options: WorkerTaskQueueOptions) {
    this.#options = options;
    this.#appModuleUrl = options.appModule.startsWith('file:')
      ? options.appModule
      : pathToFileURL(resolve(options.appModule)).href;
  }

  /** Returns at once; the minThreads workers load the app in the background. */
  async start(): Promise<void> {
    await this.#stopping;
    this.#stopping = undefined;
    this.#ensurePool();
  }

  /** Waits for queued and running tasks (up to stopTimeoutMs), then ends every worker. */
  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async run(task: string, input: unknown, options: RunOptions = {}): Promise<unknown> {
    this.#admit(task);
    const pool = this.#ensurePool();
    // The task runs in a thread that makes no spans: its span here covers its wait and its run.
    const running = Promise.resolve(
      consuming(`task ${task}`, { 'cleave.task': task }, options.trace, () =>
        this.#dispatch(pool, task, input, options.signal),
      ),
    );
    this.#inFlight.add(running);
    const forget = (): void => void this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  async enqueue(task: string, input: unknown): Promise<Job> {
    return this.#jobs.enqueue(task, input);
  }

  async job(id: string): Promise<Job | undefined> {
    return this.#jobs.get(id);
  }

  /** Refuses at once what would never run: a stopping queue, an unknown task, a full queue. */
  #admit(task: string): void {
    if (this.#stopping !== undefined) throw new ShuttingDownError(`task queue is stopping; ${task} was not run`);
    if (findTask(this.#options.app, task) === undefined) {
      throw new TaskNotFoundError(`no task "${task}" in app ${this.#options.app.name}`);
    }
    const pool = this.#ensurePool();
    if (pool.queueSize >= this.#maxQueue) {
      throw new TaskQueueFullError(`the task queue is full (${this.#maxQueue} waiting); ${task} was not run`);
    }
  }

  get #maxQueue(): number {
    return this.#options.maxQueue ?? 1000;
  }

  async #dispatch(
    pool: Piscina<TaskRequest, TaskReply>,
    task: string,
    input: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    let reply: TaskReply;
    try {
      // An abort while the task runs terminates its worker: the only way to stop
      // synchronous CPU work. piscina starts a fresh one in its place.
      reply = await pool.run({ task, input }, { signal: signal ?? null });
    } catch (error) {
      throw this.#poolFailure(task, error);
    }
    if (reply.ok) return reply.output;
    throw fromWire(task, reply.error);
  }

  /** A failure outside the task's own code: abort, queue full, a dead worker, an input that cannot be cloned. */
  #poolFailure(task: string, error: unknown): Error {
    if (error instanceof Error && error.name === 'AbortError') return error;
    if (this.#stopping !== undefined) {
      return new ShuttingDownError(`task queue stopped before ${task} finished`, { cause: error });
    }
    // piscina says so only in a message; this is the one place that reads it.
    if (error instanceof Error && error.message === 'Task queue is at limit') {
      return new TaskQueueFullError(`task queue is full; ${task} was not run`, { cause: error });
    }
    if (error instanceof Error) return new TaskFailedError(task, error.message, { cause: error });
    // A worker whose postMessage threw (an output with a function or a class
    // instance in it) dies, and its DataCloneError arrives as an empty object.
    return new TaskFailedError(task, 'the worker thread died; is the output structured-cloneable?', { cause: error });
  }

  #ensurePool(): Piscina<TaskRequest, TaskReply> {
    if (this.#pool !== undefined) return this.#pool;
    const options = this.#options;
    const pool = new (piscina().Piscina)<TaskRequest, TaskReply>({
      filename: WORKER_ENTRY,
      workerData: {
        appModule: this.#appModuleUrl,
        tsx: loaderFor(fileURLToPath(this.#appModuleUrl), options.typescript) === 'tsx',
      } satisfies TaskWorkerData,
      minThreads: options.minThreads ?? 1,
      maxThreads: options.maxThreads ?? availableParallelism(),
      // Each new worker pays for the app import (and tsx, if the app needs it) again,
      // so a burst should find the extra workers still there.
      idleTimeout: options.idleTimeoutMs ?? 30_000,
      // Checked before each run (#admit); piscina's own bound is the backstop.
      maxQueue: this.#maxQueue,
      // Left alone, a worker inherits process.execArgv. Flags such as --title or
      // --stack-trace-limit are fine inherited, but preloads are not: an
      // `--import`/`--require` re-runs in every worker, so a preload that starts
      // telemetry, a pino transport or the app itself runs once per thread (pino
      // passes [] to its transport worker for this reason). Passing
      // process.execArgv through is worse: an explicit list is parsed again and
      // per-process flags throw ERR_WORKER_INVALID_EXEC_ARGV. The worker installs
      // the only hook it needs, tsx, itself; run from source, cleave's own flags
      // (ownExecArgv) are what makes its code loadable. NODE_OPTIONS still applies:
      // that is the operator's choice for every Node.js thread.
      execArgv: ownExecArgv(),
    });
    // Without a listener an 'error' event would crash the process; it carries
    // failures no task is waiting for, e.g. a worker that died while idle.
    pool.on('error', (error: unknown) => {
      if (options.log) options.log.error({ err: error }, 'task worker failed');
      else process.emitWarning(`cleave task worker failed: ${String(error)}`);
    });
    this.#pool = pool;
    return pool;
  }

  async #drain(): Promise<void> {
    const pool = this.#pool;
    if (pool === undefined) return;
    const timeoutMs = this.#options.stopTimeoutMs ?? 30_000;
    const finished = await settledWithin([...this.#inFlight], timeoutMs);
    if (!finished) {
      this.#options.log?.warn({ tasks: this.#inFlight.size, timeoutMs }, 'terminating tasks still running at stop');
    }
    this.#pool = undefined;
    await pool.destroy();
  }
}

/** Rebuilds the worker's error as the cause, so logs show its name, code and stack. */
function fromWire(task: string, wire: WireError): Error {
  const cause = Object.assign(new Error(wire.message), { name: wire.name }, wire.code ? { code: wire.code } : {});
  if (wire.stack !== undefined) cause.stack = wire.stack;
  if (wire.code === 'CLEAVE_TASK_NOT_FOUND') return new TaskNotFoundError(wire.message, { cause });
  return new TaskFailedError(task, wire.message, { cause });
}
