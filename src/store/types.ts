// The Store port: named collections of versioned JSON records. Every adapter
// (memory, file; later IPC, Redis, PostgreSQL) passes store/contract.ts.

export interface StoredRecord<T = unknown> {
  key: string;
  value: T;
  /** Starts at 1 on first put and grows by one on every write. */
  version: number;
}

export interface PutOptions {
  /**
   * Optimistic concurrency: the version the caller last read. 0 means "must not
   * exist yet". A mismatch rejects with StoreConflictError and writes nothing.
   */
  ifVersion?: number;
}

export interface ListOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** At most this many records, in ascending key order. */
  limit?: number;
  /**
   * Only keys after this one: the next page starts after the last key of the one before,
   * so a page is never skewed by records written or deleted in between.
   */
  after?: string;
}

/** A backend stores records for many collections. */
export interface StoreBackend {
  start(): Promise<void>;
  /** Flushes every acknowledged write to its medium and releases resources. */
  stop(): Promise<void>;
  get(collection: string, key: string): Promise<StoredRecord | undefined>;
  /** Resolves only once the write is durable for this backend. */
  put(collection: string, key: string, value: unknown, options?: PutOptions): Promise<StoredRecord>;
  /** True when a record was deleted. ifVersion as for put. */
  delete(collection: string, key: string, options?: PutOptions): Promise<boolean>;
  list(collection: string, options?: ListOptions): Promise<StoredRecord[]>;
}
