// The queue folder's public face: the port and its worker-thread adapter.

export type { RunOptions, TaskQueue } from './types.ts';
export { WorkerTaskQueue, type WorkerTaskQueueOptions } from './worker-pool.ts';
