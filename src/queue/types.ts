// The Queue port: run a named CPU-heavy task off the event loop, awaited (run) or as a job
// whose status and result are read later (enqueue, job). In-process worker threads in the
// monolith; the supervisor's worker pools when split; JetStream later.

import type { WireError } from '../shared/error-wire.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

export interface RunOptions {
  signal?: AbortSignal;
  /** The running span's trace context: the task's span joins its trace (observability/tracing.ts). */
  trace?: TraceCarrier | undefined;
}

export type JobState = 'pending' | 'succeeded' | 'failed';

/** A task run as a job: what `ctx.enqueue` returns and `ctx.job` reads. */
export interface Job<O = unknown> {
  id: string;
  /** The task's id, `service.name`. */
  task: string;
  state: JobState;
  /** ISO times. */
  createdAt: string;
  finishedAt?: string;
  /** Once succeeded. */
  output?: O;
  /** Once failed: the error's code and message, never a stack. */
  error?: WireError;
}

export interface TaskQueue {
  start(): Promise<void>;
  /** Waits for queued and running tasks, then frees the workers. */
  stop(): Promise<void>;
  /** Resolves with the task's output; rejects with TaskFailedError, TaskNotFoundError or TaskQueueFullError. */
  run(task: string, input: unknown, options?: RunOptions): Promise<unknown>;
  /** Queues the task and resolves at once with its job; TaskQueueFullError past the bound. */
  enqueue(task: string, input: unknown): Promise<Job>;
  /** The job's status and, once finished, its result; undefined when unknown or expired. */
  job(id: string): Promise<Job | undefined>;
}
