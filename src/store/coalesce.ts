// Wraps a backend so a burst of identical reads (a hot key on a busy route) costs one
// backend call. Only calls that overlap share: once the shared call settles, the next
// read goes to the backend again, so nothing is cached.

import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';

export function coalesceReads(backend: StoreBackend): StoreBackend {
  return new CoalescingStore(backend);
}

class CoalescingStore implements StoreBackend {
  /** collection -> read signature -> the backend call in flight */
  private readonly inFlight = new Map<string, Map<string, Promise<unknown>>>();

  private readonly backend: StoreBackend;

  constructor(backend: StoreBackend) {
    this.backend = backend;
  }

  start(): Promise<void> {
    return this.backend.start();
  }

  stop(): Promise<void> {
    return this.backend.stop();
  }

  get(collection: string, key: string): Promise<StoredRecord | undefined> {
    return this.share(collection, `get:${key}`, () => this.backend.get(collection, key));
  }

  list(collection: string, options: ListOptions = {}): Promise<StoredRecord[]> {
    const signature = `list:${JSON.stringify([options.prefix ?? null, options.limit ?? null, options.after ?? null])}`;
    return this.share(collection, signature, () => this.backend.list(collection, options));
  }

  put(collection: string, key: string, value: unknown, options?: PutOptions): Promise<StoredRecord> {
    return this.afterWrite(collection, key, this.backend.put(collection, key, value, options));
  }

  delete(collection: string, key: string, options?: PutOptions): Promise<boolean> {
    return this.afterWrite(collection, key, this.backend.delete(collection, key, options));
  }

  private share<T>(collection: string, signature: string, read: () => Promise<T>): Promise<T> {
    let calls = this.inFlight.get(collection);
    if (calls === undefined) {
      calls = new Map();
      this.inFlight.set(collection, calls);
    }
    let shared = calls.get(signature) as Promise<T> | undefined;
    if (shared === undefined) {
      const own = read();
      shared = own;
      calls.set(signature, own);
      const forget = (): void => this.forget(collection, signature, own);
      void own.then(forget, forget);
    }
    // Every caller, the first included, gets its own copy: one caller mutating its record
    // must not show through in another's.
    return shared.then((result) => structuredClone(result));
  }

  private forget(collection: string, signature: string, call: Promise<unknown>): void {
    const calls = this.inFlight.get(collection);
    // Only if still ours: a write may already have replaced it with a newer read.
    if (calls?.get(signature) !== call) return;
    calls.delete(signature);
    if (calls.size === 0) this.inFlight.delete(collection);
  }

  /**
   * Once a write settles, reads issued afterwards must not join a call that started before
   * it and may return the old value: read-your-writes holds for writes through this wrapper.
   */
  private afterWrite<T>(collection: string, key: string, write: Promise<T>): Promise<T> {
    const invalidate = (): void => {
      const calls = this.inFlight.get(collection);
      if (calls === undefined) return;
      calls.delete(`get:${key}`);
      for (const signature of calls.keys()) if (signature.startsWith('list:')) calls.delete(signature);
      if (calls.size === 0) this.inFlight.delete(collection);
    };
    return write.finally(invalidate);
  }
}
