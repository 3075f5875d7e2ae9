// Records held in process memory: the reference adapter for the Store contract, used by
// tests and by single-process apps that need no durability.

import { StoreConflictError } from '../errors.ts';
import { selectKeys } from './list-keys.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';

export class MemoryStore implements StoreBackend {
  private readonly collections = new Map<string, Map<string, StoredRecord>>();

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async get(collection: string, key: string): Promise<StoredRecord | undefined> {
    const record = this.collections.get(collection)?.get(key);
    return record === undefined ? undefined : copyOf(record);
  }

  async put(collection: string, key: string, value: unknown, options: PutOptions = {}): Promise<StoredRecord> {
    const records = this.recordsOf(collection);
    const version = expectVersion(collection, key, records.get(key), options) + 1;
    // Clone on the way in too: a caller mutating `value` after put must not reach the store.
    const record: StoredRecord = { key, value: structuredClone(value), version };
    records.set(key, record);
    return copyOf(record);
  }

  async delete(collection: string, key: string, options: PutOptions = {}): Promise<boolean> {
    const records = this.collections.get(collection);
    expectVersion(collection, key, records?.get(key), options);
    return records?.delete(key) ?? false;
  }

  async list(collection: string, options?: ListOptions): Promise<StoredRecord[]> {
    const records = this.collections.get(collection);
    // Selected even when the collection is absent, so bad options fail the same way always.
    return selectKeys(records?.keys() ?? [], options).map((key) => copyOf(records!.get(key)!));
  }

  private recordsOf(collection: string): Map<string, StoredRecord> {
    let records = this.collections.get(collection);
    if (records === undefined) {
      records = new Map();
      this.collections.set(collection, records);
    }
    return records;
  }
}

/** Returns the current version (0 when absent) or throws when `ifVersion` disagrees. */
function expectVersion(
  collection: string,
  key: string,
  current: StoredRecord | undefined,
  options: PutOptions,
): number {
  const actual = current?.version ?? 0;
  if (options.ifVersion !== undefined && options.ifVersion !== actual) {
    throw new StoreConflictError(collection, key, options.ifVersion, actual);
  }
  return actual;
}

function copyOf(record: StoredRecord): StoredRecord {
  return { key: record.key, value: structuredClone(record.value), version: record.version };
}
