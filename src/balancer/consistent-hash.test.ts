import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsistentHash } from './consistent-hash.ts';
import { allCandidates, balancerContract, replicas } from './contract.ts';

// Without a key it is least in-flight, and must pass the whole contract as such.
balancerContract('ConsistentHash (no key)', () => new ConsistentHash());

const clients = Array.from({ length: 2000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);

function owners(balancer: ConsistentHash, pool: ReturnType<typeof replicas>): Map<string, string> {
  return new Map(clients.map((key) => [key, balancer.candidates(pool, { key }).next()?.id ?? '']));
}

describe('ConsistentHash', () => {
  it('sends one client to one replica, and offers every replica once as fallback', () => {
    const balancer = new ConsistentHash();
    const pool = replicas(4);
    const first = balancer.candidates(pool, { key: '203.0.113.5' }).next()?.id;
    for (let i = 0; i < 20; i++) assert.equal(balancer.candidates(pool, { key: '203.0.113.5' }).next()?.id, first);
    assert.deepEqual(allCandidates(balancer.candidates(pool, { key: '203.0.113.5' })).sort(), ['r0', 'r1', 'r2', 'r3']);
  });

  it('spreads clients evenly', () => {
    const counts = new Map<string, number>();
    for (const owner of owners(new ConsistentHash(), replicas(4)).values())
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    for (const [id, count] of counts) assert.ok(count > 400 && count < 600, `${id}: ${count} of 2000`);
  });

  it('moves only the clients of a replica that leaves, and only ~1/n to one that joins', () => {
    const balancer = new ConsistentHash();
    const pool = replicas(4);
    const before = owners(balancer, pool);
    const after = owners(
      balancer,
      pool.filter((replica) => replica.id !== 'r2'),
    );
    for (const [key, owner] of before) {
      if (owner !== 'r2') assert.equal(after.get(key), owner, `${key} stayed on ${owner}`);
    }
    const grown = owners(balancer, [...pool, ...replicas(1, 'new')]);
    const moved = [...before].filter(([key, owner]) => grown.get(key) !== owner);
    assert.ok(
      moved.every(([key]) => grown.get(key) === 'new0'),
      'clients only move to the new replica',
    );
    assert.ok(moved.length > 250 && moved.length < 550, `${moved.length} of 2000 moved (about a fifth)`);
  });
});
