import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { Replica } from './replica.ts';
import type { ReplicaHealthMessage, ReplicaOptions } from './replica.ts';

const make = (options?: ReplicaOptions) => new Replica('api-1', { socketPath: '/tmp/api-1.sock' }, options);

function repeat(times: number, fn: () => void): void {
  for (let i = 0; i < times; i++) fn();
}

/** Health messages published while `fn` runs. */
function published(fn: () => void): ReplicaHealthMessage[] {
  const messages: ReplicaHealthMessage[] = [];
  const listen = (message: unknown) => messages.push(message as ReplicaHealthMessage);
  diagnostics_channel.subscribe('cleave:upstream:health', listen);
  try {
    fn();
  } finally {
    diagnostics_channel.unsubscribe('cleave:upstream:health', listen);
  }
  return messages;
}

describe('Replica health', () => {
  it('starts healthy and available with nothing in flight', () => {
    const replica = make();
    assert.deepEqual([replica.healthy, replica.available(), replica.inFlight], [true, true, 0]);
    assert.deepEqual(replica.address, { socketPath: '/tmp/api-1.sock' });
  });

  it('turns unhealthy only on the third failure in a row', () => {
    const replica = make();
    repeat(2, () => replica.recordFailure());
    assert.equal(replica.healthy, true, 'two failures are not enough');
    replica.recordFailure();
    assert.equal(replica.healthy, false);
    assert.equal(replica.available(), false);
  });

  it('starts counting failures again after a success', () => {
    const replica = make();
    repeat(2, () => replica.recordFailure());
    replica.recordSuccess();
    repeat(2, () => replica.recordFailure());
    assert.equal(replica.healthy, true);
  });

  it('turns healthy again on the second success in a row, and a failure restarts that count', () => {
    const replica = make();
    repeat(3, () => replica.recordFailure());
    replica.recordSuccess();
    replica.recordFailure();
    replica.recordSuccess();
    assert.equal(replica.healthy, false, 'successes not in a row');
    replica.recordSuccess();
    assert.equal(replica.healthy, true);
  });

  it('takes its thresholds from options and refuses ones that are not positive integers', () => {
    const replica = make({ unhealthyAfter: 1, healthyAfter: 1 });
    replica.recordFailure();
    assert.equal(replica.healthy, false);
    replica.recordSuccess();
    assert.equal(replica.healthy, true);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => make({ unhealthyAfter: bad }), RangeError);
      assert.throws(() => make({ healthyAfter: bad }), RangeError);
      assert.throws(() => make({ maxInFlight: bad }), RangeError);
    }
  });

  it('publishes on cleave:upstream:health when health flips, not on every result', () => {
    const replica = make();
    const messages = published(() => {
      repeat(5, () => replica.recordFailure());
      repeat(4, () => replica.recordSuccess());
    });
    assert.deepEqual(
      messages.map(({ replica: r, healthy, down }) => [r.id, healthy, down]),
      [
        ['api-1', false, false],
        ['api-1', true, false],
      ],
    );
  });

  it('leaves at once on markDown, for good, and says so once', () => {
    const replica = make();
    const messages = published(() => {
      replica.markDown();
      replica.markDown();
      repeat(5, () => replica.recordSuccess());
    });
    assert.deepEqual([replica.down, replica.healthy, replica.available()], [true, false, false]);
    assert.deepEqual(
      messages.map(({ healthy, down }) => [healthy, down]),
      [[false, true]],
    );
  });
});

describe('Replica load', () => {
  it('counts a lease once however often it is released, and never below zero', () => {
    const replica = make();
    const first = replica.begin();
    const second = replica.begin();
    assert.equal(replica.inFlight, 2);
    first.release();
    first.release();
    assert.equal(replica.inFlight, 1, 'the second release of a lease does nothing');
    second.release();
    first.release();
    assert.equal(replica.inFlight, 0);
    assert.equal(first.replica, replica);
  });

  it('is full at maxInFlight and available again below it', () => {
    const replica = make({ maxInFlight: 2 });
    const leases = [replica.begin(), replica.begin()];
    assert.deepEqual([replica.full(), replica.available(), replica.healthy], [true, false, true]);
    leases[0]!.release();
    assert.deepEqual([replica.full(), replica.available()], [false, true]);
    leases[1]!.release();
    assert.equal(make().full(), false, 'no limit by default');
  });

  it('takes no new requests while draining, and lets those in flight finish', async () => {
    const replica = make();
    const lease = replica.begin();
    replica.drain();
    assert.deepEqual([replica.draining, replica.healthy, replica.available()], [true, true, false]);
    let idle = false;
    const whenIdle = replica.whenIdle().then(() => (idle = true));
    await Promise.resolve();
    assert.equal(idle, false, 'a request is still in flight');
    lease.release();
    await whenIdle;
    assert.equal(replica.inFlight, 0);
    await replica.whenIdle(); // already idle: resolves at once
  });

  it('stays out of the pool while draining even when healthy results arrive', () => {
    const replica = make();
    replica.drain();
    repeat(3, () => replica.recordSuccess());
    assert.equal(replica.available(), false);
  });
});
