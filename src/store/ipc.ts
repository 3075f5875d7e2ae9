// The Store across the IPC channel, both ends. In a split-mode replica every call runs on the
// supervisor's store through the hub, so all replicas read and write one source of truth.
// Conflicts come back as StoreConflictError, and a supervisor that stops answering as
// StoreUnavailableError.

import { CollectionAccessError } from '../errors.ts';
import { serviceOfCaller, type RpcHandlers } from '../ipc/handlers.ts';
import type { RpcClient } from '../ipc/rpc-client.ts';
import { checkListOptions } from './list-keys.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';

export class IpcStore implements StoreBackend {
  readonly #rpc: RpcClient;

  /** `rpc` is the replica's one client for its channel; whoever made it closes it, last. */
  constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  // The supervisor starts and flushes the real store. A put here resolves only once the
  // supervisor's store acknowledged it, so nothing acknowledged is buffered in a replica.
  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  get(collection: string, key: string): Promise<StoredRecord | undefined> {
    return this.#rpc.call('store.get', collection, key);
  }

  put(collection: string, key: string, value: unknown, options: PutOptions = {}): Promise<StoredRecord> {
    return this.#rpc.call('store.put', collection, key, value, options);
  }

  delete(collection: string, key: string, options: PutOptions = {}): Promise<boolean> {
    return this.#rpc.call('store.delete', collection, key, options);
  }

  async list(collection: string, options: ListOptions = {}): Promise<StoredRecord[]> {
    // Checked here as the in-process stores check it: a caller's mistake is a RangeError
    // with the caller's stack, not an internal error from across the channel.
    checkListOptions(options);
    return this.#rpc.call('store.list', collection, options);
  }
}

/**
 * The supervisor's end: `store` answers every replica (wrap it in coalesceReads, and
 * identical reads from different replicas that overlap share one backend read).
 */
export function serveStore(store: StoreBackend): RpcHandlers {
  return {
    'store.get': (caller, collection, key) => store.get(ownCollection(caller, collection), key),
    'store.put': (caller, collection, key, value, options) =>
      store.put(ownCollection(caller, collection), key, value, options),
    'store.delete': (caller, collection, key, options) => store.delete(ownCollection(caller, collection), key, options),
    'store.list': (caller, collection, options) => store.list(ownCollection(caller, collection), options),
  };
}

/**
 * A replica reaches only its own service's collections: the data of another is reached by
 * calls or events. Its ServiceContext never names another's; this holds even for a message
 * written by hand on the channel. The supervisor's own channels are not a service's.
 */
function ownCollection(caller: string, collection: string): string {
  const service = serviceOfCaller(caller);
  if (service === undefined || (typeof collection === 'string' && collection.startsWith(`${service}/`))) {
    return collection;
  }
  throw new CollectionAccessError(`${service} may not reach the collection ${String(collection)}`);
}
