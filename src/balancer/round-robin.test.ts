import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCandidates, balancerContract, firstAvailable, replicas } from './contract.ts';
import { RoundRobin } from './round-robin.ts';

balancerContract('RoundRobin', () => new RoundRobin());

describe('RoundRobin', () => {
  it('cycles through the pool in order, each pick starting one further', () => {
    const balancer = new RoundRobin();
    const pool = replicas(3);
    const firsts = Array.from({ length: 7 }, () => balancer.candidates(pool).next()?.id);
    assert.deepEqual(firsts, ['r0', 'r1', 'r2', 'r0', 'r1', 'r2', 'r0']);
    assert.deepEqual(allCandidates(balancer.candidates(pool)), ['r1', 'r2', 'r0'], 'goes round from its start');
  });

  it('starts the next pick after the last replica a retry used', () => {
    const balancer = new RoundRobin();
    const pool = replicas(4);
    const candidates = balancer.candidates(pool);
    assert.equal(candidates.next()?.id, 'r0');
    assert.equal(candidates.next()?.id, 'r1', 'the retry');
    assert.equal(balancer.candidates(pool).next()?.id, 'r2');
  });

  // Regression: advancing one step per pick hands a skipped replica's turn to its neighbour,
  // which then takes 2/3 of the traffic in a pool of three with one unavailable.
  it('alternates over the others when a replica in between is skipped', () => {
    const balancer = new RoundRobin();
    const pool = replicas(3);
    pool[1]!.drain();
    const ids = Array.from({ length: 6 }, () => firstAvailable(balancer.candidates(pool))?.id);
    assert.deepEqual(ids, ['r0', 'r2', 'r0', 'r2', 'r0', 'r2']);
  });

  it('ignores in-flight counts', () => {
    const balancer = new RoundRobin();
    const pool = replicas(2);
    const lease = pool[0]!.begin();
    assert.equal(balancer.candidates(pool).next()?.id, 'r0');
    lease.release();
  });
});
