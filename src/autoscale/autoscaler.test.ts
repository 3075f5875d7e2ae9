import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScalePolicy } from '../app/service.ts';
import { Autoscaler, type PoolState, type ReplicaLoad } from './autoscaler.ts';

const policy = (overrides: Partial<ScalePolicy> = {}): ScalePolicy => ({
  min: 1,
  max: Infinity,
  target: { inFlight: 10, eventLoop: 0.5 },
  downAfterMs: 10_000,
  ...overrides,
});

const loads = (count: number, load: ReplicaLoad): ReplicaLoad[] => Array.from({ length: count }, () => ({ ...load }));

function pool(service: string, current: number, load: ReplicaLoad, overrides: Partial<ScalePolicy> = {}): PoolState {
  return { service, policy: policy(overrides), current, loads: loads(current, load) };
}

describe('Autoscaler', () => {
  it('grows at once to ceil(current × observed / target), by the busiest signal', () => {
    const scaler = new Autoscaler({ budget: 100, now: () => 0 });
    // 2 replicas at event loop 0.9 against 0.5: ceil(2 × 0.9 / 0.5) = 4.
    const byLoop = scaler.step([pool('a', 2, { inFlight: 1, eventLoop: 0.9 })]);
    assert.equal(byLoop.desired.get('a'), 4);
    assert.equal(byLoop.decisions[0]?.from, 2);
    assert.equal(byLoop.decisions[0]?.to, 4);
    assert.match(byLoop.decisions[0]?.reason ?? '', /event loop 0\.90 per replica, target 0\.5/);
    // 35 requests in flight over 1 replica against 10 each: 4.
    const byInFlight = scaler.step([pool('b', 1, { inFlight: 35, eventLoop: 0.1 })]);
    assert.equal(byInFlight.desired.get('b'), 4);
    assert.match(byInFlight.decisions[0]?.reason ?? '', /35 requests in flight over 1 replicas/);
  });

  it('keeps the size within 10% of the target, and when no replica has reported', () => {
    const scaler = new Autoscaler({ budget: 100, now: () => 0 });
    assert.equal(scaler.step([pool('a', 2, { inFlight: 0, eventLoop: 0.54 })]).desired.get('a'), 2);
    assert.deepEqual(scaler.step([{ service: 'b', policy: policy(), current: 3, loads: [] }]).decisions, []);
  });

  it('clamps to the policy and shares the budget, the pool under most pressure first', () => {
    const scaler = new Autoscaler({ budget: 6, now: () => 0 });
    const step = scaler.step([
      pool('capped', 1, { inFlight: 0, eventLoop: 1 }, { max: 2 }),
      pool('hot', 1, { inFlight: 100, eventLoop: 1 }),
      pool('warm', 1, { inFlight: 15, eventLoop: 0.1 }),
    ]);
    assert.equal(step.desired.get('hot'), 4, 'wants 10, takes all the budget leaves');
    assert.equal(step.desired.get('capped'), 1, 'nothing left');
    assert.equal(step.desired.get('warm'), 1, 'nothing left');
    const roomy = new Autoscaler({ budget: 100, now: () => 0 });
    assert.equal(roomy.step([pool('capped', 1, { inFlight: 0, eventLoop: 1 }, { max: 2 })]).desired.get('capped'), 2);
    assert.equal(roomy.maxOf(policy({ min: 3, max: 200 })), 100, 'the budget bounds max');
  });

  it('keeps a group of pools within its own budget too', () => {
    const scaler = new Autoscaler({ budget: 100, groupBudgets: { tasks: 3 }, now: () => 0 });
    const busyTasks = (service: string): PoolState => ({
      ...pool(service, 1, { inFlight: 50, eventLoop: 0 }),
      group: 'tasks',
    });
    const step = scaler.step([
      busyTasks('a/tasks'),
      busyTasks('b/tasks'),
      pool('web', 1, { inFlight: 50, eventLoop: 0 }),
    ]);
    assert.equal(
      (step.desired.get('a/tasks') ?? 0) + (step.desired.get('b/tasks') ?? 0),
      3,
      'three task workers in all',
    );
    assert.equal(step.desired.get('web'), 5, 'the other pools only see the machine budget');
  });

  it('shrinks only after wanting fewer for the whole window, to the highest recommendation in it', () => {
    let now = 0;
    const scaler = new Autoscaler({ budget: 100, now: () => now });
    const idle = { inFlight: 0, eventLoop: 0.05 };
    assert.equal(scaler.step([pool('a', 4, idle)]).desired.get('a'), 4, 'a new pool waits one window');
    now = 5_000;
    // A burst in the window: 4 × 0.3 / 0.5 → 3 recommended.
    assert.equal(scaler.step([pool('a', 4, { inFlight: 0, eventLoop: 0.3 })]).desired.get('a'), 4);
    now = 10_001;
    const partly = scaler.step([pool('a', 4, idle)]);
    assert.equal(partly.desired.get('a'), 3, 'the burst still counts');
    assert.match(partly.decisions[0]?.reason ?? '', /below target for 10 s/);
    now = 15_000;
    assert.equal(scaler.step([pool('a', 3, idle)]).desired.get('a'), 3, 'a shrink restarts the window');
    now = 20_002;
    assert.equal(scaler.step([pool('a', 3, idle)]).desired.get('a'), 1);
  });

  it('does not shrink right after growing', () => {
    let now = 0;
    const scaler = new Autoscaler({ budget: 100, now: () => now, downAfterMs: 1000 });
    scaler.step([pool('a', 1, { inFlight: 0, eventLoop: 0.05 })]);
    now = 2000;
    assert.equal(scaler.step([pool('a', 1, { inFlight: 40, eventLoop: 0.2 })]).desired.get('a'), 4);
    now = 2500;
    assert.equal(scaler.step([pool('a', 4, { inFlight: 0, eventLoop: 0.05 })]).desired.get('a'), 4);
    now = 3600;
    assert.equal(scaler.step([pool('a', 4, { inFlight: 0, eventLoop: 0.05 })]).desired.get('a'), 1);
  });

  it('never goes below min, whatever the window says', () => {
    let now = 0;
    const scaler = new Autoscaler({ budget: 100, now: () => now, downAfterMs: 0 });
    scaler.step([pool('a', 3, { inFlight: 0, eventLoop: 0 }, { min: 2 })]);
    now = 1;
    assert.equal(scaler.step([pool('a', 3, { inFlight: 0, eventLoop: 0 }, { min: 2 })]).desired.get('a'), 2);
  });
});
