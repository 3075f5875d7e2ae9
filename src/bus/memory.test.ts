import assert from 'node:assert/strict';
import { it } from 'node:test';
import { until } from '../../test/helpers/wait.ts';
import { busContract } from './contract.ts';
import { MemoryBus } from './memory.ts';

busContract('MemoryBus', async () => new MemoryBus());

it('MemoryBus reports listener failures to onListenerError and never to the emitter', async () => {
  const failures: string[] = [];
  const bus = new MemoryBus({
    onListenerError: (error, topic) => failures.push(`${topic}: ${(error as Error).message}`),
  });
  bus.subscribe('x', () => {
    throw new Error('sync');
  });
  bus.subscribe('x', async () => {
    throw new Error('async');
  });
  await bus.publish('x', null);
  // The async listener's rejection is reported when it settles, after publish returns.
  await until(() => (failures.length >= 2 ? true : undefined), 2000, 'both failures reported', 5);
  assert.deepEqual(failures.sort(), ['x: async', 'x: sync']);
});
