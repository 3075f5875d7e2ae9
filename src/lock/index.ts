// The lock folder's public face: the port and its adapters.

export type { Lock } from './types.ts';
export { MemoryLock, type MemoryLockOptions } from './memory.ts';
export { IpcLock } from './ipc.ts';
export { RedisLock } from './redis.ts';
