import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease, Replica } from '../upstream/replica.ts';
import { allCandidates, balancerContract, firstAvailable, replicas } from './contract.ts';
import { LeastInFlight } from './least-in-flight.ts';

balancerContract('LeastInFlight', () => new LeastInFlight());

/** Gives each replica of the pool the in-flight count at the same position. */
function load(pool: readonly Replica[], counts: readonly number[]): Lease[] {
  return pool.flatMap((replica, i) => Array.from({ length: counts[i] ?? 0 }, () => replica.begin()));
}

describe('LeastInFlight', () => {
  it('offers replicas from the fewest requests in flight to the most', () => {
    const pool = replicas(4);
    const leases = load(pool, [3, 1, 2, 5]);
    assert.deepEqual(allCandidates(new LeastInFlight().candidates(pool)), ['r1', 'r2', 'r0', 'r3']);
    for (const lease of leases) lease.release();
  });

  it('shares picks among the least loaded replicas in turn', () => {
    const balancer = new LeastInFlight();
    const pool = replicas(4);
    const busy = load(pool, [2, 0, 0, 0]);
    const ids = Array.from({ length: 6 }, () => {
      const replica = firstAvailable(balancer.candidates(pool));
      replica?.begin().release();
      return replica?.id;
    });
    assert.deepEqual(ids, ['r1', 'r2', 'r3', 'r1', 'r2', 'r3']);
    for (const lease of busy) lease.release();
  });

  it('sends a new request to the replica that became least loaded', () => {
    const balancer = new LeastInFlight();
    const pool = replicas(3);
    const held = [0, 1, 2].map(() => firstAvailable(balancer.candidates(pool))!.begin());
    assert.deepEqual(
      held.map((lease) => lease.replica.id),
      ['r0', 'r1', 'r2'],
    );
    held[1]!.release();
    assert.equal(balancer.candidates(pool).next()?.id, 'r1');
    held[0]!.release();
    held[2]!.release();
  });

  // An unavailable replica gets no requests, so its count drops to 0; ranked by count alone
  // it would head every pick and the caller would skip it every time.
  it('ranks unavailable replicas after every available one, however idle', () => {
    const pool = replicas(4);
    const leases = load(pool, [4, 0, 3, 0]);
    pool[1]!.drain();
    for (let i = 0; i < 3; i++) pool[3]!.recordFailure();
    const ids = allCandidates(new LeastInFlight().candidates(pool));
    assert.deepEqual(ids.slice(0, 2), ['r2', 'r0']);
    assert.deepEqual(ids.slice(2).sort(), ['r1', 'r3']);
    for (const lease of leases) lease.release();
  });

  it('ranks a retry by the counts at the time of the retry, not of the first attempt', () => {
    const pool = replicas(3);
    const leases = load(pool, [0, 1, 2]);
    const candidates = new LeastInFlight().candidates(pool);
    assert.equal(candidates.next()?.id, 'r0');
    leases.push(...load(pool, [0, 3, 0])); // r1 got busier meanwhile: now 4 against r2's 2
    assert.equal(candidates.next()?.id, 'r2');
    assert.equal(candidates.next()?.id, 'r1');
    assert.equal(candidates.next(), undefined);
    for (const lease of leases) lease.release();
  });
});
