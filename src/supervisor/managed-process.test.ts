// ManagedProcess's restart and stop logic on fake time and a fake spawner. The same paths
// with real processes are in real-processes.test.ts.

import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ownExecArgv } from '../runtime/typescript.ts';
import { FakeClock } from './fixtures/fake-clock.ts';
import { FakeSpawner } from './fixtures/fake-spawner.ts';
import { ManagedProcess, type ManagedProcessEvent, type ManagedProcessOptions } from './managed-process.ts';

function setup(options: Partial<ManagedProcessOptions> = {}) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const events: ManagedProcessEvent[] = [];
  const managed = new ManagedProcess({
    role: 'posts#2',
    entry: '/app/replica-main.ts',
    spawner: spawner.spawn,
    clock,
    restart: { initialDelayMs: 100, jitter: 0, maxCrashes: 3, crashWindowMs: 60_000, stableAfterMs: 10_000 },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { clock, spawner, events, managed, types: () => events.map((event) => event.type) };
}

describe('ManagedProcess (fake time)', () => {
  it('forks the entry with the role flag, the flags that load cleave, and the env added to the parent env', () => {
    const { managed, spawner } = setup({ args: ['--x'], env: { CLEAVE_SERVICE: 'posts' } });
    managed.start();
    const { spec } = spawner.last;
    assert.equal(spec.entry, '/app/replica-main.ts');
    assert.deepEqual(spec.args, ['--x', '--cleave-role=posts#2']);
    assert.equal(spec.env.CLEAVE_SERVICE, 'posts');
    assert.equal(spec.env.PATH, process.env.PATH);
    assert.deepEqual(spec.execArgv, ownExecArgv());
    assert.equal(managed.pid, 1000);
    assert.equal(managed.state, 'running');
  });

  it('restarts a crashed process after a growing delay, then gives up on a crash loop', async () => {
    const { managed, spawner, clock, events, types } = setup();
    managed.start();
    for (const delay of [100, 200, 400]) {
      clock.advance(50);
      spawner.last.exit(1);
      await turn();
      assert.equal(managed.state, 'waiting');
      assert.deepEqual(clock.pendingDelays, [delay]);
      clock.advance(delay - 1);
      assert.equal(spawner.children.length, events.filter((event) => event.type === 'started').length);
      const before = spawner.children.length;
      clock.advance(1);
      assert.equal(spawner.children.length, before + 1, `restarted after exactly ${delay} ms`);
    }
    spawner.last.exit(1);
    await turn();
    assert.equal(managed.state, 'gave-up');
    assert.equal(clock.pending, 0);
    assert.deepEqual(events.at(-1), { type: 'gave-up', role: 'posts#2', crashes: 4, windowMs: 60_000 });
    assert.deepEqual(types(), [
      ...['started', 'exited', 'restarting'],
      ...['started', 'exited', 'restarting'],
      ...['started', 'exited', 'restarting'],
      ...['started', 'exited', 'gave-up'],
    ]);
    const exited = events.find((event) => event.type === 'exited');
    assert.deepEqual(exited, {
      type: 'exited',
      role: 'posts#2',
      pid: 1000,
      code: 1,
      signal: null,
      uptimeMs: 50,
      expected: false,
    });
    await managed.stop();
    assert.equal(managed.state, 'stopped');
  });

  it('stops with SIGTERM and sends SIGKILL only once the grace is over', async () => {
    const { managed, spawner, clock, events } = setup();
    managed.start();
    const child = spawner.last;
    const stopped = managed.stop(1_000);
    assert.equal(managed.state, 'stopping');
    assert.deepEqual(child.signals, ['SIGTERM']);
    clock.advance(999);
    assert.deepEqual(child.signals, ['SIGTERM']);
    clock.advance(1);
    assert.deepEqual(child.signals, ['SIGTERM', 'SIGKILL']);
    await stopped;
    assert.equal(managed.state, 'stopped');
    assert.equal(clock.pending, 0, 'no restart and no timer left');
    assert.deepEqual(
      events.filter((event) => event.type !== 'started'),
      [
        { type: 'grace-expired', role: 'posts#2', pid: 1000, graceMs: 1_000 },
        {
          type: 'exited',
          role: 'posts#2',
          pid: 1000,
          code: null,
          signal: 'SIGKILL',
          uptimeMs: 1_000,
          expected: true,
        },
      ],
    );
  });

  it('cancels the SIGKILL when the process exits within the grace', async () => {
    const { managed, spawner, clock } = setup();
    managed.start();
    const stopped = managed.stop(1_000);
    spawner.last.exit(0);
    await stopped;
    assert.equal(clock.pending, 0);
    assert.deepEqual(spawner.last.signals, ['SIGTERM']);
  });

  it('is safe to stop before start, while waiting to restart, twice, and after giving up', async () => {
    const never = setup();
    await never.managed.stop();
    assert.equal(never.managed.state, 'stopped');
    assert.throws(() => never.managed.start(), { code: 'CLEAVE_INTERNAL' });
    assert.equal(never.spawner.children.length, 0);

    const waiting = setup();
    waiting.managed.start();
    waiting.spawner.last.exit(1);
    await turn();
    assert.equal(waiting.clock.pending, 1);
    const first = waiting.managed.stop();
    assert.equal(waiting.managed.stop(), first, 'one stop shared by every caller');
    await first;
    assert.equal(waiting.clock.pending, 0, 'the restart was cancelled');
    waiting.clock.advance(60_000);
    assert.equal(waiting.spawner.children.length, 1);

    const gaveUp = setup({ restart: { maxCrashes: 0 } });
    gaveUp.managed.start();
    gaveUp.spawner.last.exit(1);
    await turn();
    assert.equal(gaveUp.managed.state, 'gave-up');
    await gaveUp.managed.stop();
    assert.equal(gaveUp.managed.state, 'stopped');
  });

  it('does not restart when a listener stops it on hearing of the crash', async () => {
    const { managed, spawner, clock } = setup({
      onEvent: (event) => {
        if (event.type === 'exited') void managed.stop();
      },
    });
    managed.start();
    spawner.last.exit(1);
    await turn();
    assert.equal(managed.state, 'stopped');
    assert.equal(clock.pending, 0);
  });

  it('does not restart when a listener stops it on hearing of the restart', async () => {
    const { managed, spawner, clock } = setup({
      onEvent: (event) => {
        if (event.type === 'restarting') void managed.stop();
      },
    });
    managed.start();
    spawner.last.exit(1);
    await turn();
    clock.advance(60_000);
    assert.equal(managed.state, 'stopped');
    assert.equal(spawner.children.length, 1);
    assert.equal(clock.pending, 0);
  });

  it('treats a spawner that throws as a crash at boot', async () => {
    const { managed, clock, events } = setup({
      spawner: () => {
        throw new Error('EAGAIN');
      },
    });
    managed.start();
    await turn();
    const exited = events.find((event) => event.type === 'exited');
    assert.equal(exited?.type === 'exited' && exited.error?.message, 'EAGAIN');
    assert.equal(managed.state, 'waiting');
    assert.deepEqual(clock.pendingDelays, [100]);
    await managed.stop();
  });

  it('hands each new child to onSpawn before reporting it started, and publishes events', async () => {
    const order: string[] = [];
    const published: unknown[] = [];
    const listen = (message: unknown): void => void published.push(message);
    diagnostics_channel.subscribe('cleave:supervisor:process', listen);
    try {
      const { managed, spawner } = setup({
        onSpawn: (child) => order.push(`spawn ${child.pid}`),
        onEvent: (event) => order.push(event.type),
      });
      managed.start();
      assert.deepEqual(order, ['spawn 1000', 'started']);
      assert.deepEqual(published, [{ type: 'started', role: 'posts#2', pid: 1000 }]);
      const stopped = managed.stop();
      spawner.last.exit(0);
      await stopped;
    } finally {
      diagnostics_channel.unsubscribe('cleave:supervisor:process', listen);
    }
  });
});
