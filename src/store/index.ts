// The store folder's public face. Internals (log records, snapshots, recovery, the
// contract suite) stay importable by path for adapters and tests, not re-exported here.

export type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';
export { Collection } from './collection.ts';
export type { UpdateOptions } from './collection.ts';
export { MemoryStore } from './memory.ts';
export { FileStore } from './file.ts';
export type { FileStoreOptions } from './file.ts';
export { PostgresStore } from './postgres.ts';
export type { PostgresStoreOptions } from './postgres.ts';
export { coalesceReads } from './coalesce.ts';
export { IpcStore } from './ipc.ts';
