import assert from 'node:assert/strict';
import { it } from 'node:test';
import { balancerFor, balancerNames, ConsistentHash, LeastInFlight, RoundRobin } from './index.ts';
import type { BalancerName } from './index.ts';

it('balancerFor builds a fresh balancer per call, one per pool', () => {
  assert.ok(balancerFor('least-in-flight') instanceof LeastInFlight);
  assert.ok(balancerFor('round-robin') instanceof RoundRobin);
  assert.ok(balancerFor('consistent-hash') instanceof ConsistentHash);
  assert.notEqual(balancerFor('round-robin'), balancerFor('round-robin'), 'pools never share a rotation');
  assert.deepEqual([...balancerNames].sort(), ['consistent-hash', 'cookie-affinity', 'least-in-flight', 'round-robin']);
});

it('balancerFor names the known strategies when given an unknown one (config is a string at run time)', () => {
  assert.throws(
    () => balancerFor('random' as BalancerName),
    /unknown balancer "random"; expected one of: least-in-flight, round-robin, consistent-hash, cookie-affinity/,
  );
});
