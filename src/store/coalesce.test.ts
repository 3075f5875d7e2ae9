import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { coalesceReads } from './coalesce.ts';
import { storeContract } from './contract.ts';
import { FileStore } from './file.ts';
import { MemoryStore } from './memory.ts';
import type { ListOptions, StoredRecord } from './types.ts';

const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

storeContract('coalesceReads(MemoryStore)', async () => coalesceReads(new MemoryStore()));
storeContract('coalesceReads(FileStore)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-coalesce-'));
  tempDirs.push(dir);
  return coalesceReads(new FileStore({ dir }));
});

/** A MemoryStore whose reads are counted and held until release() opens the gate for good. */
class GatedStore extends MemoryStore {
  gets = 0;
  lists = 0;
  failNextGet = false;
  private readonly gate = manualGate();

  release(): void {
    this.gate.resolve();
  }

  override async get(collection: string, key: string): Promise<StoredRecord | undefined> {
    this.gets++;
    const fail = this.failNextGet;
    this.failNextGet = false;
    await this.gate.promise;
    if (fail) throw new Error('backend read failed');
    return super.get(collection, key);
  }

  override async list(collection: string, options?: ListOptions): Promise<StoredRecord[]> {
    this.lists++;
    await this.gate.promise;
    return super.list(collection, options);
  }
}

function manualGate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('coalesceReads', { timeout: 10_000 }, () => {
  it('shares one backend get among identical concurrent calls, each with its own copy', async () => {
    const backend = new GatedStore();
    await backend.put('users', 'ada', { name: 'ada' });
    const store = coalesceReads(backend);
    const reads = Array.from({ length: 10 }, () => store.get('users', 'ada'));
    backend.release();
    const records = await Promise.all(reads);
    assert.equal(backend.gets, 1);
    (records[0]!.value as { name: string }).name = 'mutated';
    assert.deepEqual(records[1], { key: 'ada', value: { name: 'ada' }, version: 1 });
    assert.notEqual(records[1], records[2]);
  });

  it('goes to the backend again once the shared call has settled', async () => {
    const backend = new GatedStore();
    const store = coalesceReads(backend);
    backend.release();
    await store.get('users', 'ada');
    await store.get('users', 'ada');
    assert.equal(backend.gets, 2);
  });

  it('does not share between different keys, collections or list options', async () => {
    const backend = new GatedStore();
    const store = coalesceReads(backend);
    const reads = [
      store.get('users', 'a'),
      store.get('users', 'b'),
      store.get('admins', 'a'),
      store.list('users'),
      store.list('users'),
      store.list('users', { prefix: 'a' }),
      store.list('users', { prefix: 'a' }),
      store.list('users', { prefix: 'a', limit: 1 }),
      store.list('admins'),
    ];
    backend.release();
    await Promise.all(reads);
    assert.equal(backend.gets, 3);
    assert.equal(backend.lists, 4);
  });

  it('hands a failure to every caller that joined, then retries afresh', async () => {
    const backend = new GatedStore();
    const store = coalesceReads(backend);
    backend.failNextGet = true;
    const reads = [store.get('users', 'a'), store.get('users', 'a')];
    backend.release();
    for (const read of reads) await assert.rejects(read, /backend read failed/);
    assert.equal(await store.get('users', 'a'), undefined);
    assert.equal(backend.gets, 2);
  });

  it('never answers a read issued after a write with a call that started before it', async () => {
    const backend = new GatedStore();
    const store = coalesceReads(backend);
    const staleGet = store.get('users', 'ada');
    const staleList = store.list('users');
    await store.put('users', 'ada', 'new'); // writes are not gated
    const freshGet = store.get('users', 'ada');
    const freshList = store.list('users');
    backend.release();
    assert.equal((await freshGet)?.value, 'new');
    assert.deepEqual(
      (await freshList).map((record) => record.value),
      ['new'],
    );
    await Promise.all([staleGet, staleList]);
    assert.equal(backend.gets, 2);
    assert.equal(backend.lists, 2);
  });
});
