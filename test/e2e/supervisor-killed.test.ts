// Issue 12: a supervisor killed with SIGKILL can neither stop its children nor clean up
// after itself. Its children must notice and go on their own within seconds, even with log
// lines still to write to a stdout whose reader (the supervisor) is gone, and the unix
// sockets the supervisor made (the replicas' folder, `cleave status`) must not stay behind.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { adminSocketPath } from '../../src/supervisor/admin-server.ts';
import { childPids, isRunning, startCleave, titleOf } from '../helpers/spawn-cleave.ts';
import { until } from '../helpers/wait.ts';

/** One variable of `pid`'s environment as it was started (Linux /proc). */
function envOf(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((line) => line.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

describe('a supervisor killed with SIGKILL', { timeout: 60_000 }, () => {
  it('leaves no child running and no socket behind, killed under load', async () => {
    const app = await startCleave(['start', 'test/fixtures/supervisor-killed']);
    const supervisor = app.child.pid ?? 0;
    const children = childPids(supervisor);
    const titles = new Map(children.map((pid) => [pid, titleOf(pid)]));
    const statusSocket = adminSocketPath(app.port);
    let socketDir: string | undefined;
    try {
      assert.deepEqual(
        [...titles.values()].filter((title) => title.startsWith('cleave ')).sort(),
        ['cleave gateway', 'cleave web#1', 'cleave web#2', 'cleave web/tasks#1'],
        'the processes the fixture starts',
      );
      const replica = children.find((pid) => titles.get(pid) === 'cleave web#1') ?? 0;
      const socketPath = envOf(replica, 'CLEAVE_SOCKET_PATH');
      assert.ok(socketPath, 'a replica knows its socket');
      socketDir = dirname(socketPath);
      assert.ok(existsSync(socketDir));
      assert.ok(existsSync(statusSocket));

      // Killed while requests flow: the gateway and the replicas hold access-log lines not
      // yet written (they are batched for up to 100 ms) when the supervisor, the only reader
      // of their stdout, dies, and they log the requests still in flight after it.
      let answered = 0;
      let loading = true;
      const client = async () => {
        while (loading) {
          try {
            await (await fetch(`${app.url}/pid`)).arrayBuffer();
            answered++;
          } catch {
            // The gateway goes with its supervisor.
          }
        }
      };
      const load = Promise.all(Array.from({ length: 4 }, client));
      await until(() => (answered >= 50 ? true : undefined), 10_000, 'requests flowing');
      process.kill(supervisor, 'SIGKILL');
      loading = false;
      await load;

      const stillRunning = () => children.filter(isRunning).map((pid) => `${pid} ${titles.get(pid) ?? ''}`);
      await until(() => (stillRunning().length === 0 ? true : undefined), 5000, 'every child gone').catch(() => {
        assert.deepEqual(stillRunning(), [], 'every child exits within 5 s of its supervisor');
      });
      // The children clean up before they exit.
      assert.equal(existsSync(socketDir), false, `the socket folder ${socketDir} is removed`);
      assert.equal(existsSync(statusSocket), false, 'the socket of `cleave status` is removed');
    } finally {
      for (const pid of children.filter(isRunning)) process.kill(pid, 'SIGKILL');
      if (isRunning(supervisor)) process.kill(supervisor, 'SIGKILL');
      if (socketDir) rmSync(socketDir, { recursive: true, force: true });
      rmSync(statusSocket, { force: true });
    }
  });
});
