// The Balancer contract every strategy passes (round robin, least in-flight, consistent hash
// without a key; cookie affinity later). Strategy-specific behaviour is tested next to each.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Replica } from '../upstream/replica.ts';
import type { Lease } from '../upstream/replica.ts';
import type { Balancer, Candidates } from './types.ts';

export function replicas(count: number, prefix = 'r'): Replica[] {
  return Array.from(
    { length: count },
    (_, i) => new Replica(`${prefix}${i}`, { socketPath: `/tmp/${prefix}${i}.sock` }),
  );
}

/** Every candidate a pick offers, in order. */
export function allCandidates(candidates: Candidates): string[] {
  const ids: string[] = [];
  for (let replica = candidates.next(); replica; replica = candidates.next()) ids.push(replica.id);
  return ids;
}

/** What the gateway does: the first available candidate. */
export function firstAvailable(candidates: Candidates): Replica | undefined {
  for (let replica = candidates.next(); replica; replica = candidates.next()) {
    if (replica.available()) return replica;
  }
  return undefined;
}

/** Picks `count` times, each request over before the next (an idle pool); counts per id. */
function spread(balancer: Balancer, pool: readonly Replica[], count: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const replica = firstAvailable(balancer.candidates(pool));
    assert.ok(replica, 'a pick over a pool with available replicas found one');
    replica.begin().release();
    counts.set(replica.id, (counts.get(replica.id) ?? 0) + 1);
  }
  return counts;
}

function assertEven(counts: Map<string, number>, ids: readonly string[], total: number): void {
  const share = total / ids.length;
  for (const id of ids) {
    const got = counts.get(id) ?? 0;
    assert.ok(Math.abs(got - share) <= share * 0.1, `${id} got ${got} of ${total} picks, expected ~${share}`);
  }
  assert.equal([...counts.keys()].filter((id) => !ids.includes(id)).length, 0, 'no pick went elsewhere');
}

export function balancerContract(name: string, make: () => Balancer): void {
  describe(`Balancer contract: ${name}`, () => {
    it('yields every replica exactly once per pick, whatever their state', () => {
      const balancer = make();
      const pool = replicas(6);
      const held: Lease[] = [pool[0]!.begin(), pool[0]!.begin(), pool[3]!.begin()];
      pool[1]!.drain();
      pool[2]!.markDown();
      for (let i = 0; i < 3; i++) pool[4]!.recordFailure();
      const all = pool.map((replica) => replica.id).sort();
      for (let pick = 0; pick < 10; pick++) {
        assert.deepEqual(allCandidates(balancer.candidates(pool)).sort(), all, `pick ${pick}`);
      }
      for (const lease of held) lease.release();
    });

    it('yields a replica on the first call whenever the pool has one, even if none is available', () => {
      const balancer = make();
      const pool = replicas(3);
      for (const replica of pool) replica.drain();
      for (let pick = 0; pick < 5; pick++) assert.ok(balancer.candidates(pool).next());
    });

    it('offers a retry another replica than the first choice', () => {
      const balancer = make();
      const pool = replicas(4);
      for (let pick = 0; pick < 8; pick++) {
        const candidates = balancer.candidates(pool);
        const first = candidates.next();
        const retry = candidates.next();
        assert.ok(first && retry);
        assert.notEqual(retry.id, first.id);
      }
    });

    it('spreads picks evenly over equal idle replicas', () => {
      for (const size of [2, 3, 5, 8]) {
        const pool = replicas(size);
        assertEven(
          spread(make(), pool, size * 100),
          pool.map((replica) => replica.id),
          size * 100,
        );
      }
    });

    it('spreads picks evenly over the available replicas when some are not', () => {
      const pool = replicas(5);
      pool[1]!.drain();
      for (let i = 0; i < 3; i++) pool[3]!.recordFailure();
      assertEven(spread(make(), pool, 600), ['r0', 'r2', 'r4'], 600);
    });

    it('spreads requests evenly while they are held (a busy pool)', () => {
      const balancer = make();
      const pool = replicas(4);
      const window: Lease[] = [];
      const counts = new Map<string, number>();
      for (let i = 0; i < 800; i++) {
        const replica = firstAvailable(balancer.candidates(pool));
        assert.ok(replica);
        window.push(replica.begin());
        if (window.length > 6) window.shift()!.release();
        counts.set(replica.id, (counts.get(replica.id) ?? 0) + 1);
      }
      assertEven(counts, ['r0', 'r1', 'r2', 'r3'], 800);
      for (const lease of window) lease.release();
    });

    it('works with one replica and with none', () => {
      const balancer = make();
      const [only] = replicas(1);
      const one = balancer.candidates([only!]);
      assert.equal(one.next(), only);
      assert.equal(one.next(), undefined);
      const none = balancer.candidates([]);
      assert.equal(none.next(), undefined);
      assert.equal(none.next(), undefined, 'stays exhausted');
    });

    it('follows a pool that grows and shrinks between picks', () => {
      const balancer = make();
      const pool = replicas(8);
      // Sizes chosen so the rotation is often past the end of the next, smaller pool.
      for (const size of [8, 5, 2, 7, 1, 0, 3, 8, 4]) {
        const current = pool.slice(0, size);
        for (let pick = 0; pick < 3; pick++) {
          const ids = allCandidates(balancer.candidates(current));
          assert.deepEqual(ids.sort(), current.map((replica) => replica.id).sort(), `size ${size}`);
        }
      }
      const fresh = replicas(3, 'new');
      assert.deepEqual(allCandidates(balancer.candidates(fresh)).sort(), ['new0', 'new1', 'new2']);
    });

    it('keeps the array it was given when the pool replaces its own mid-pick', () => {
      const balancer = make();
      let pool = replicas(3);
      const candidates = balancer.candidates(pool);
      const first = candidates.next();
      pool = [...pool, ...replicas(2, 'added')];
      const later = allCandidates(balancer.candidates(pool));
      assert.equal(later.length, 5, 'a new pick sees the new pool');
      const rest = allCandidates(candidates);
      assert.deepEqual([first!.id, ...rest].sort(), ['r0', 'r1', 'r2'], 'the pick in progress keeps its own');
    });
  });
}
