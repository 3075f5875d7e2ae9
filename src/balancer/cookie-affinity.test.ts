import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allCandidates, balancerContract, replicas } from './contract.ts';
import { CookieAffinity } from './cookie-affinity.ts';

// Without a cookie it is least in-flight, and must pass the whole contract as such.
balancerContract('CookieAffinity (no cookie)', () => new CookieAffinity());

describe('CookieAffinity', () => {
  it("offers the cookie's replica first, then every other once", () => {
    const pool = replicas(3);
    assert.deepEqual(allCandidates(new CookieAffinity().candidates(pool, { key: 'r2' })).slice(0, 1), ['r2']);
    assert.deepEqual(allCandidates(new CookieAffinity().candidates(pool, { key: 'r2' })).sort(), ['r0', 'r1', 'r2']);
  });

  it('ignores a cookie that names no replica of the pool (one that left, or a forged one)', () => {
    const pool = replicas(3);
    assert.deepEqual(allCandidates(new CookieAffinity().candidates(pool, { key: 'gone#9' })).sort(), [
      'r0',
      'r1',
      'r2',
    ]);
  });
});
