// The typed handle apps use: one named collection over any StoreBackend, with key checks
// and an optimistic read-modify-write loop.

import { InvalidKeyError, StoreConflictError } from '../errors.ts';
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
    assertCollectionName(name);
    this.backend = backend;
    this.name = name;
  }

  async get(key: string): Promise<StoredRecord<T> | undefined> {
    assertKey(key);
    return (await this.backend.get(this.name, key)) as StoredRecord<T> | undefined;
  }

  async put(key: string, value: T, options?: PutOptions): Promise<StoredRecord<T>> {
    assertKey(key);
    return (await this.backend.put(this.name, key, value, options)) as StoredRecord<T>;
  }

  async delete(key: string, options?: PutOptions): Promise<boolean> {
    assertKey(key);
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
    assertKey(key);
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

/** A collection's name is the app's own: a bad one is a bug, found at first use. */
function assertCollectionName(value: unknown): asserts value is string {
  const problem = problemWith(value);
  if (problem !== undefined) throw new TypeError(`store collection name ${problem}`);
}

/**
 * A key usually comes from a request (`ctx.params.id`): one the store can't hold is the
 * client's error, a 400 with a code, never a 500. A key that is not a string at all is the
 * app's bug, and stays a TypeError.
 */
function assertKey(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`store key must be a string, got ${typeof value}`);
  const problem = problemWith(value);
  if (problem !== undefined) throw new InvalidKeyError(`key ${problem}`);
}

function problemWith(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) {
    return `must be a non-empty string, got ${JSON.stringify(value) ?? String(value)}`;
  }
  if (value.length > MAX_NAME_LENGTH) return `is ${value.length} characters; the limit is ${MAX_NAME_LENGTH}`;
  if (CONTROL_CHARACTERS.test(value)) return `${JSON.stringify(value)} contains a control character`;
  return undefined;
}
