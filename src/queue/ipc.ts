// The TaskQueue across the IPC channel, both ends: a split replica's every call goes to the
// supervisor's TaskBroker, which runs the task in the owning service's worker pool. A run
// waits as long as the task takes (up to `runTimeoutMs`), not the short deadline of a store
// call.

import type { RpcHandlers } from '../ipc/handlers.ts';
import type { RpcClient } from '../ipc/rpc-client.ts';
import type { Job, RunOptions, TaskQueue } from './types.ts';
import { carrierFrom } from '../observability/tracing.ts';

export class IpcTaskQueue implements TaskQueue {
  readonly #rpc: RpcClient;
  readonly #runTimeoutMs: number;

  constructor(rpc: RpcClient, options: { runTimeoutMs?: number } = {}) {
    this.#rpc = rpc;
    this.#runTimeoutMs = options.runTimeoutMs ?? 300_000;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  run(task: string, input: unknown, options?: RunOptions): Promise<unknown> {
    const trace = options?.trace;
    return trace === undefined
      ? this.#rpc.callWithin(this.#runTimeoutMs, 'task.run', task, input)
      : this.#rpc.callWithin(this.#runTimeoutMs, 'task.run', task, input, trace);
  }

  enqueue(task: string, input: unknown): Promise<Job> {
    return this.#rpc.call('task.enqueue', task, input);
  }

  job(id: string): Promise<Job | undefined> {
    return this.#rpc.call('task.job', id);
  }
}

/** The supervisor's end: `tasks` (its TaskBroker) runs and records every replica's tasks. */
export function serveTasks(tasks: TaskQueue): RpcHandlers {
  return {
    'task.run': (_caller, task, input, trace) => tasks.run(task, input, { trace: carrierFrom(trace) ?? undefined }),
    'task.enqueue': (_caller, task, input) => tasks.enqueue(task, input),
    'task.job': (_caller, id) => tasks.job(id),
  };
}
