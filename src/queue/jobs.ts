// Jobs on top of any `run`: an id at once, the result kept for reading later. Bounded twice:
// pending jobs count against the queue's own bound (run refuses past it), and finished ones
// are kept for `ttlMs` and at most `maxFinished` of them, oldest dropped first, so memory
// never grows with traffic.

import { randomUUID } from 'node:crypto';
import { toWire } from '../shared/error-wire.ts';
import type { Job } from './types.ts';

export interface JobTableOptions {
  /** How long a finished job stays readable. @default 600000 (10 min) */
  ttlMs?: number;
  /** Finished jobs kept at most. @default 10000 */
  maxFinished?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface JobRunner {
  /** Throws (TaskQueueFullError, TaskNotFoundError…) when the task would be refused; else returns. */
  admit(task: string): void;
  run(task: string, input: unknown): Promise<unknown>;
}

export class JobTable {
  readonly #runner: JobRunner;
  readonly #ttlMs: number;
  readonly #maxFinished: number;
  readonly #now: () => number;
  readonly #jobs = new Map<string, Job>();
  /** Finished job ids in finishing order, for expiry. */
  readonly #finished: Array<{ id: string; at: number }> = [];

  constructor(runner: JobRunner, options: JobTableOptions = {}) {
    this.#runner = runner;
    this.#ttlMs = options.ttlMs ?? 600_000;
    this.#maxFinished = options.maxFinished ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Starts the task and returns its job; throws as `admit` does when the task is unknown or
   * the queue is full, so the caller can answer 503 instead of a job that never runs.
   */
  enqueue(task: string, input: unknown): Job {
    this.#expire();
    this.#runner.admit(task);
    const job: Job = { id: randomUUID(), task, state: 'pending', createdAt: new Date(this.#now()).toISOString() };
    const running = this.#runner.run(task, input);
    this.#jobs.set(job.id, job);
    running.then(
      (output) => this.#finish(job, { state: 'succeeded', output }),
      (error: unknown) => this.#finish(job, { state: 'failed', error: toWire(error) }),
    );
    return { ...job };
  }

  get(id: string): Job | undefined {
    this.#expire();
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : { ...job };
  }

  get size(): number {
    return this.#jobs.size;
  }

  #finish(job: Job, result: Pick<Job, 'state' | 'output' | 'error'>): void {
    Object.assign(job, result, { finishedAt: new Date(this.#now()).toISOString() });
    this.#finished.push({ id: job.id, at: this.#now() });
    this.#expire();
  }

  #expire(): void {
    const oldest = this.#now() - this.#ttlMs;
    while (this.#finished.length > 0) {
      const first = this.#finished[0] as { id: string; at: number };
      if (first.at > oldest && this.#finished.length <= this.#maxFinished) break;
      this.#finished.shift();
      this.#jobs.delete(first.id);
    }
  }
}
