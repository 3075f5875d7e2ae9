// A store backend whose every operation is timed into the process's metrics, by collection,
// operation and outcome: the latency a handler sees, IPC or network hop included.

import type { Metrics } from '../observability/metrics.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';

export function measuredStore(backend: StoreBackend, metrics: Metrics): StoreBackend {
  const timed = <T>(collection: string, operation: string, work: Promise<T>): Promise<T> => {
    const started = performance.now();
    work.then(
      () => metrics.storeOperation(collection, operation, true, (performance.now() - started) / 1000),
      () => metrics.storeOperation(collection, operation, false, (performance.now() - started) / 1000),
    );
    return work;
  };
  return {
    start: () => backend.start(),
    stop: () => backend.stop(),
    get: (collection: string, key: string): Promise<StoredRecord | undefined> =>
      timed(collection, 'get', backend.get(collection, key)),
    put: (collection: string, key: string, value: unknown, options?: PutOptions): Promise<StoredRecord> =>
      timed(collection, 'put', backend.put(collection, key, value, options)),
    delete: (collection: string, key: string, options?: PutOptions): Promise<boolean> =>
      timed(collection, 'delete', backend.delete(collection, key, options)),
    list: (collection: string, options?: ListOptions): Promise<StoredRecord[]> =>
      timed(collection, 'list', backend.list(collection, options)),
  };
}
