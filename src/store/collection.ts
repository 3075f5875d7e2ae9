// The typed handle apps use: one named collection over any StoreBackend, with key checks
// and an optimistic read-modify-write loop.

import { StoreConflictError } from '../errors.ts';
import type { ListOptions, PutOptions, StoreBackend, StoredRecord } from './types.ts';

export interface UpdateOptions {
  /** Extra attempts after a StoreConflictError before giving up with it. @default 5 */
  retries?: number;
}

const MAX_NAME_LENGTH = 512;
// C0 and C1 control characters: invisible in logs and keys, mangled by terminals.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

export class Collection<T> {
  private readonly backend: StoreBackend;
  readonly name: string;

  constructor(backend: StoreBackend, name: string) {
    assertName(name, 'collection name');
    this.backend = backend;
    this.name = name;
  }

  async get(key: string): Promise<StoredRecord<T> | undefined> {
    assertName(key, 'key');
    return (await this.backend.get(this.name, key)) as StoredRecord<T> | undefined;
  }

  async put(key: string, value: T, options?: PutOptions): Promise<StoredRecord<T>> {
    assertName(key, 'key');
    return (await this.backend.put(this.name, key, value, options)) as StoredRecord<T>;
  }

  async delete(key: string, options?: PutOptions): Promise<boolean> {
    assertName(key, 'key');
    return this.backend.delete(this.name, key, options);
  }

  async list(options?: ListOptions): Promise<StoredRecord<T>[]> {
    return (await this.backend.list(this.name, options)) as StoredRecord<T>[];
  }

  /**
   * Reads the record, applies `fn` and writes the result only if nobody wrote in between;
   * otherwise starts over. `fn` may run several times, so it must not have side effects.
   */
  async update(key: string, fn: (current: T | undefined) => T, options: UpdateOptions = {}): Promise<StoredRecord<T>> {
    assertName(key, 'key');
    const retries = options.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new RangeError(`update retries must be a non-negative integer, got ${retries}`);
    }
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(key);
      const next = fn(current?.value);
      try {
        return await this.put(key, next, { ifVersion: current?.version ?? 0 });
      } catch (error) {
        // No back-off: each conflict means another writer succeeded, so a retry loop
        // always makes progress; it only needs enough attempts.
        if (!(error instanceof StoreConflictError) || attempt >= retries) throw error;
      }
    }
  }
}

function assertName(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`store ${what} must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`);
  }
  if (value.length > MAX_NAME_LENGTH) {
    throw new TypeError(`store ${what} is ${value.length} characters; the limit is ${MAX_NAME_LENGTH}`);
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw new TypeError(`store ${what} ${JSON.stringify(value)} contains a control character`);
  }
}
