import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidKeyError, StoreConflictError } from '../errors.ts';
import { Collection } from './collection.ts';
import { MemoryStore } from './memory.ts';

interface Profile {
  name: string;
  visits: number;
}

describe('Collection', () => {
  it('reads and writes typed records through the backend under its name', async () => {
    const backend = new MemoryStore();
    const profiles = new Collection<Profile>(backend, 'profiles');
    await profiles.put('ada', { name: 'Ada', visits: 0 });
    assert.deepEqual(await backend.get('profiles', 'ada'), {
      key: 'ada',
      value: { name: 'Ada', visits: 0 },
      version: 1,
    });
    assert.deepEqual(
      (await profiles.list()).map((record) => record.value.name),
      ['Ada'],
    );
    assert.equal(await profiles.delete('ada', { ifVersion: 1 }), true);
    assert.equal(await profiles.get('ada'), undefined);
  });

  it('creates through update when the key is absent, with ifVersion 0', async () => {
    const profiles = new Collection<Profile>(new MemoryStore(), 'profiles');
    const seen: Array<Profile | undefined> = [];
    const created = await profiles.update('ada', (current) => {
      seen.push(current);
      return { name: 'Ada', visits: (current?.visits ?? 0) + 1 };
    });
    assert.deepEqual(seen, [undefined]);
    assert.deepEqual(created, { key: 'ada', value: { name: 'Ada', visits: 1 }, version: 1 });
    const updated = await profiles.update('ada', (current) => ({ ...current!, visits: current!.visits + 1 }));
    assert.deepEqual(updated.value, { name: 'Ada', visits: 2 });
    assert.equal(updated.version, 2);
  });

  it('passes through errors other than conflicts without retrying', async () => {
    const profiles = new Collection<Profile>(new MemoryStore(), 'profiles');
    let calls = 0;
    await assert.rejects(
      profiles.update('ada', () => {
        calls++;
        throw new Error('bad input');
      }),
      /bad input/,
    );
    assert.equal(calls, 1);
  });

  it('retries a conflicted update 5 times by default', async () => {
    const backend = new MemoryStore();
    const counters = new Collection<number>(backend, 'counters');
    let calls = 0;
    const interference: Promise<unknown>[] = [];
    await assert.rejects(
      counters.update('n', (n = 0) => {
        calls++;
        interference.push(backend.put('counters', 'n', 100));
        return n + 1;
      }),
      StoreConflictError,
    );
    await Promise.all(interference);
    assert.equal(calls, 6);
  });

  it("refuses keys that are empty, too long or hold control characters as the client's error (400), names as the app's bug", async () => {
    const backend = new MemoryStore();
    const items = new Collection<string>(backend, 'items');
    const clientError = (error: unknown) =>
      error instanceof InvalidKeyError && error.status === 400 && error.code === 'CLEAVE_STORE_KEY_INVALID';
    for (const bad of ['', 'x'.repeat(513), 'a\nb', 'tab\there', 'nul\u0000', 'c1\u0085']) {
      await assert.rejects(items.get(bad), clientError, JSON.stringify(bad));
      await assert.rejects(items.put(bad, 'v'), clientError);
      await assert.rejects(items.delete(bad), clientError);
      await assert.rejects(
        items.update(bad, () => 'v'),
        clientError,
      );
      assert.throws(() => new Collection(backend, bad), TypeError);
    }
    await assert.rejects(items.get(42 as unknown as string), TypeError);
    await items.put('x'.repeat(512), 'longest allowed');
    await items.put('ünïcode/ключ/🔑', 'fine');
    assert.equal((await items.list()).length, 2);
  });

  it('rejects a negative retry count', async () => {
    const items = new Collection<number>(new MemoryStore(), 'items');
    await assert.rejects(
      items.update('k', () => 1, { retries: -1 }),
      RangeError,
    );
  });
});
