// The one test suite every StoreBackend passes (memory, file, the coalescing wrapper; later
// IPC, Redis, PostgreSQL). `make` returns a fresh, empty, not yet started backend per test.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreConflictError } from '../errors.ts';
import { Collection } from './collection.ts';
import type { StoreBackend } from './types.ts';

export function storeContract(name: string, make: () => Promise<StoreBackend>): void {
  async function withStore(test: (store: StoreBackend) => Promise<void>): Promise<void> {
    const store = await make();
    await store.start();
    try {
      await test(store);
    } finally {
      await store.stop();
    }
  }

  function conflictWith(expected: number, actual: number) {
    return (error: unknown): boolean => {
      assert.ok(error instanceof StoreConflictError, `expected StoreConflictError, got ${String(error)}`);
      assert.deepEqual((error.details as { expected: number; actual: number }).expected, expected);
      assert.deepEqual((error.details as { expected: number; actual: number }).actual, actual);
      return true;
    };
  }

  describe(`${name} (store contract)`, { timeout: 20_000 }, () => {
    it('puts and gets records, counting versions from 1', () =>
      withStore(async (store) => {
        assert.equal(await store.get('users', 'ada'), undefined);
        assert.deepEqual(await store.put('users', 'ada', { n: 1 }), { key: 'ada', value: { n: 1 }, version: 1 });
        assert.deepEqual(await store.get('users', 'ada'), { key: 'ada', value: { n: 1 }, version: 1 });
        assert.equal((await store.put('users', 'ada', { n: 2 })).version, 2);
        assert.deepEqual(await store.get('users', 'ada'), { key: 'ada', value: { n: 2 }, version: 2 });
      }));

    it('stores any JSON value', () =>
      withStore(async (store) => {
        const values = [0, 'text', true, null, [1, 'two', { three: 3 }], { nested: { deep: ['x'] } }];
        for (const [index, value] of values.entries()) await store.put('values', `v${index}`, value);
        for (const [index, value] of values.entries())
          assert.deepEqual((await store.get('values', `v${index}`))?.value, value);
      }));

    it('rejects a stale ifVersion with StoreConflictError and writes nothing', () =>
      withStore(async (store) => {
        await store.put('docs', 'a', 'first');
        await store.put('docs', 'a', 'second');
        await assert.rejects(store.put('docs', 'a', 'stale', { ifVersion: 1 }), conflictWith(1, 2));
        assert.deepEqual(await store.get('docs', 'a'), { key: 'a', value: 'second', version: 2 });
        assert.equal((await store.put('docs', 'a', 'third', { ifVersion: 2 })).version, 3);
        await assert.rejects(store.put('docs', 'missing', 'x', { ifVersion: 4 }), conflictWith(4, 0));
        assert.equal(await store.get('docs', 'missing'), undefined);
      }));

    it('treats ifVersion 0 as create-only', () =>
      withStore(async (store) => {
        assert.equal((await store.put('docs', 'a', 'created', { ifVersion: 0 })).version, 1);
        await assert.rejects(store.put('docs', 'a', 'again', { ifVersion: 0 }), conflictWith(0, 1));
        assert.equal((await store.get('docs', 'a'))?.value, 'created');
      }));

    it('deletes, reporting whether a record existed; a re-created key starts at version 1', () =>
      withStore(async (store) => {
        assert.equal(await store.delete('docs', 'a'), false);
        await store.put('docs', 'a', 1);
        await store.put('docs', 'a', 2);
        assert.equal(await store.delete('docs', 'a'), true);
        assert.equal(await store.get('docs', 'a'), undefined);
        assert.equal(await store.delete('docs', 'a'), false);
        assert.deepEqual(await store.put('docs', 'a', 3), { key: 'a', value: 3, version: 1 });
      }));

    it('deletes with ifVersion only when the version matches', () =>
      withStore(async (store) => {
        await store.put('docs', 'a', 1);
        await store.put('docs', 'a', 2);
        await assert.rejects(store.delete('docs', 'a', { ifVersion: 1 }), conflictWith(1, 2));
        assert.equal((await store.get('docs', 'a'))?.version, 2);
        await assert.rejects(store.delete('docs', 'gone', { ifVersion: 1 }), conflictWith(1, 0));
        assert.equal(await store.delete('docs', 'gone', { ifVersion: 0 }), false);
        assert.equal(await store.delete('docs', 'a', { ifVersion: 2 }), true);
        assert.equal(await store.get('docs', 'a'), undefined);
      }));

    it('lists in ascending key order with prefix and limit', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.list('items'), []);
        for (const key of ['b/2', 'a/1', 'b/1', 'c', 'a/2', 'B']) await store.put('items', key, key.toUpperCase());
        const keys = async (options?: { prefix?: string; limit?: number }) =>
          (await store.list('items', options)).map((record) => record.key);
        assert.deepEqual(await keys(), ['B', 'a/1', 'a/2', 'b/1', 'b/2', 'c']);
        assert.deepEqual(await keys({ prefix: 'b/' }), ['b/1', 'b/2']);
        assert.deepEqual(await keys({ limit: 2 }), ['B', 'a/1']);
        assert.deepEqual(await keys({ prefix: 'a/', limit: 1 }), ['a/1']);
        assert.deepEqual(await keys({ limit: 0 }), []);
        assert.deepEqual(await keys({ prefix: 'zzz' }), []);
        assert.deepEqual((await store.list('items', { prefix: 'c' }))[0], { key: 'c', value: 'C', version: 1 });
      }));

    it('pages through a prefix with after and limit, seeing each key once', () =>
      withStore(async (store) => {
        for (let n = 0; n < 7; n++) await store.put('pages', `p/${n}`, n);
        await store.put('pages', 'o', 'before the prefix');
        await store.put('pages', 'q', 'after the prefix');
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.list('pages', { prefix: 'p/', limit: 3, ...(after === undefined ? {} : { after }) });
          if (page.length === 0) break;
          seen.push(...page.map((record) => record.key));
          after = page.at(-1)!.key;
        }
        assert.deepEqual(seen, ['p/0', 'p/1', 'p/2', 'p/3', 'p/4', 'p/5', 'p/6']);
        assert.deepEqual(
          (await store.list('pages', { after: 'p/5' })).map((record) => record.key),
          ['p/6', 'q'],
        );
        // A page start before the prefix begins at the prefix.
        assert.deepEqual(
          (await store.list('pages', { prefix: 'p/', after: 'a', limit: 1 })).map((record) => record.key),
          ['p/0'],
        );
        await assert.rejects(store.list('pages', { limit: -1 }), RangeError);
      }));

    it('lists keys by code point, beyond ASCII too', () =>
      withStore(async (store) => {
        for (const key of ['é', 'e', 'z', 'ée', 'f']) await store.put('text', key, key);
        assert.deepEqual(
          (await store.list('text')).map((record) => record.key),
          ['e', 'f', 'z', 'é', 'ée'],
        );
        assert.deepEqual(
          (await store.list('text', { prefix: 'é' })).map((record) => record.key),
          ['é', 'ée'],
        );
      }));

    it('keeps collections apart', () =>
      withStore(async (store) => {
        await store.put('left', 'k', 'L');
        await store.put('right', 'k', 'R');
        await store.put('right', 'k', 'R2');
        assert.deepEqual(await store.get('left', 'k'), { key: 'k', value: 'L', version: 1 });
        assert.deepEqual(await store.get('right', 'k'), { key: 'k', value: 'R2', version: 2 });
        await store.delete('left', 'k');
        assert.deepEqual(
          (await store.list('right')).map((record) => record.value),
          ['R2'],
        );
        assert.deepEqual(await store.list('left'), []);
      }));

    it('isolates stored values from objects callers hold', () =>
      withStore(async (store) => {
        const value = { tags: ['a'], profile: { name: 'ada' } };
        const written = await store.put('users', 'u', value);
        value.tags.push('mutated-input');
        (written.value as typeof value).profile.name = 'mutated-put-result';
        const read = await store.get('users', 'u');
        (read!.value as typeof value).tags.push('mutated-get-result');
        const [listed] = await store.list('users');
        (listed!.value as typeof value).profile.name = 'mutated-list-result';
        assert.deepEqual((await store.get('users', 'u'))?.value, { tags: ['a'], profile: { name: 'ada' } });
      }));

    it('lets exactly one of several concurrent puts with the same ifVersion win', () =>
      withStore(async (store) => {
        await store.put('race', 'k', 'start');
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, writer) => store.put('race', 'k', writer, { ifVersion: 1 })),
        );
        const winners = results.filter((result) => result.status === 'fulfilled');
        assert.equal(winners.length, 1);
        for (const result of results) {
          if (result.status === 'rejected') assert.ok(result.reason instanceof StoreConflictError);
        }
        const stored = await store.get('race', 'k');
        assert.equal(stored?.version, 2);
        assert.equal(stored?.value, (winners[0] as PromiseFulfilledResult<{ value: unknown }>).value.value);
      }));

    it('gives concurrent unconditional puts distinct, consecutive versions', () =>
      withStore(async (store) => {
        const written = await Promise.all(Array.from({ length: 25 }, (_, n) => store.put('race', 'k', n)));
        assert.deepEqual(
          written.map((record) => record.version).sort((a, b) => a - b),
          Array.from({ length: 25 }, (_, n) => n + 1),
        );
        assert.equal((await store.get('race', 'k'))?.version, 25);
      }));

    it('lands every one of 20 concurrent Collection.update increments', () =>
      withStore(async (store) => {
        const counters = new Collection<number>(store, 'counters');
        // 19 other writers can each beat this one at most once, so 19 retries always suffice.
        await Promise.all(Array.from({ length: 20 }, () => counters.update('hits', (n = 0) => n + 1, { retries: 19 })));
        assert.deepEqual(await counters.get('hits'), { key: 'hits', value: 20, version: 20 });
      }));

    it('makes Collection.update give up with the conflict after its retries', () =>
      withStore(async (store) => {
        const interference: Promise<unknown>[] = [];
        // The conditional put waits for the interfering write to land: on a backend with many
        // connections, a write issued first is not always applied first.
        const interfered: StoreBackend = {
          start: () => store.start(),
          stop: () => store.stop(),
          get: (collection, key) => store.get(collection, key),
          delete: (collection, key, options) => store.delete(collection, key, options),
          list: (collection, options) => store.list(collection, options),
          put: async (collection, key, value, options) => {
            await Promise.all(interference);
            return store.put(collection, key, value, options);
          },
        };
        const counters = new Collection<number>(interfered, 'counters');
        let calls = 0;
        const update = counters.update(
          'hits',
          (n = 0) => {
            calls++;
            // Another writer slips in between this read and the conditional put, every time.
            interference.push(store.put('counters', 'hits', -1));
            return n + 1;
          },
          { retries: 2 },
        );
        await assert.rejects(update, StoreConflictError);
        await Promise.all(interference);
        assert.equal(calls, 3);
      }));
  });
}
