// `cleave start` when a process misbehaves without dying: a replica whose event loop stops
// (SIGSTOP stands for a blocked loop) leaves its pool at its first failed health probe, and
// is replaced once it stays unhealthy; the gateway, a process of its own, comes back on the
// same port when killed; a port already taken stops the start with one line.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  childPids,
  type CleaveProcess,
  isRunning,
  runToExit,
  startCleave,
  stopLeavingNothing,
  titleOf,
} from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

describe('cleave start: health and the gateway process', { timeout: 60_000 }, () => {
  let app: CleaveProcess;
  const pidsOf = (role: string) =>
    childPids(app.child.pid ?? 0).filter((pid) => titleOf(pid).startsWith(`cleave ${role}`));
  const pidServing = async () => ((await (await fetch(`${app.url}/pid`)).json()) as { pid: number }).pid;

  before(async () => {
    app = await startCleave(['start', 'test/fixtures/replicated'], {
      CLEAVE_TASK_THREADS: '1',
      CLEAVE_HEALTH_INTERVAL_MS: '200',
      CLEAVE_HEALTH_TIMEOUT_MS: '300',
      CLEAVE_UNHEALTHY_RESTART_MS: '2000',
    });
  });
  after(async () => {
    for (const pid of childPids(app.child.pid ?? 0)) if (isRunning(pid)) process.kill(pid, 'SIGCONT');
    await stopLeavingNothing(app);
  });

  it('answers its health path at the gateway', async () => {
    const res = await fetch(`${app.url}/_cleave/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('takes a stalled replica out at once, sends every request elsewhere, then replaces it', async () => {
    const [stalled, other] = pidsOf('notes#') as [number, number];
    process.kill(stalled, 'SIGSTOP');
    await until(
      () => app.logs.find((line) => line.msg === 'replica unhealthy: out of the pool') ?? undefined,
      2000,
      'the gateway noticing',
    );
    // Out of the pool: every request now goes to the other replica, none hangs.
    for (let i = 0; i < 20; i++) assert.equal(await pidServing(), other);
    // Unhealthy for CLEAVE_UNHEALTHY_RESTART_MS: killed and restarted by the supervisor.
    const fresh = await until(
      () => pidsOf('notes#').find((pid) => pid !== stalled && pid !== other),
      10_000,
      'a replacement process',
    );
    assert.equal(isRunning(stalled), false, 'the stalled process is gone');
    await until(async () => ((await pidServing()) === fresh ? true : undefined), 10_000, 'the replacement serving');
  });

  it('brings a killed gateway back on the same port, the replicas untouched', async () => {
    const [gateway] = pidsOf('gateway');
    assert.ok(gateway);
    const replicas = pidsOf('notes#').sort();
    process.kill(gateway, 'SIGKILL');
    await until(
      async () => {
        const fresh = pidsOf('gateway')[0];
        if (fresh === undefined || fresh === gateway) return undefined;
        return fetch(`${app.url}/pid`).then(
          (res) => (res.ok ? true : undefined),
          () => undefined,
        );
      },
      10_000,
      'the gateway back',
    );
    assert.deepEqual(pidsOf('notes#').sort(), replicas);
  });
});

describe('cleave start on a port in use', () => {
  it('exits 1 with one line naming the port', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const { code, stderr } = await runToExit(['start', 'test/fixtures/replicated'], {
        PORT: String(port),
        HOST: '127.0.0.1',
      });
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`^cleave: CLEAVE_LISTEN_FAILED port ${port} on 127.0.0.1 is in use`, 'm'));
    } finally {
      blocker.close();
    }
  });
});
