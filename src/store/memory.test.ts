import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from './memory.ts';
import { storeContract } from './contract.ts';

storeContract('MemoryStore', async () => new MemoryStore());

describe('MemoryStore', () => {
  it('rejects a list limit that is not a non-negative integer', async () => {
    const store = new MemoryStore();
    await assert.rejects(store.list('c', { limit: -1 }), RangeError);
    await assert.rejects(store.list('c', { limit: 1.5 }), RangeError);
  });
});
