// The Queue port: run a named CPU-heavy task off the event loop.
// In-process worker threads today; supervisor queue and JetStream later.

export interface RunOptions {
  signal?: AbortSignal;
}

export interface TaskQueue {
  start(): Promise<void>;
  /** Waits for queued and running tasks, then frees the workers. */
  stop(): Promise<void>;
  /** Resolves with the task's output; rejects with TaskFailedError or TaskNotFoundError. */
  run(task: string, input: unknown, options?: RunOptions): Promise<unknown>;
}
