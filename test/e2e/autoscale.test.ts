// `cleave start` with a pool that autoscales: under CPU load it grows at once, with no
// failed request; once calm for its window it shrinks back, draining the leaving replicas
// first (their WebSockets close with 1001), again with no failed request; `cleave status
// --json` shows all of it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppStatus } from '../../src/supervisor/status.ts';
import {
  childPids,
  type CleaveProcess,
  startCleave,
  statusOf,
  stopLeavingNothing,
  titleOf,
} from '../helpers/spawn-cleave.ts';
import { sleep, until } from '../helpers/wait.ts';
import { openSocket, type TestSocket } from '../helpers/ws-client.ts';

/** Requests in `loops` parallel loops until `stop()`; every non-200 or error is kept. */
function load(url: string, loops: number, pauseMs = 0) {
  let running = true;
  const failures: string[] = [];
  const pids = new Set<number>();
  let requests = 0;
  const loop = async () => {
    while (running) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        requests++;
        if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
        else pids.add(((await res.json()) as { pid: number }).pid);
      } catch (error) {
        failures.push(String(error));
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
  return {
    failures,
    pids,
    requests: () => requests,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('cleave start: autoscaling', { timeout: 90_000 }, () => {
  let app: CleaveProcess;
  const workers = () => childPids(app.child.pid ?? 0).filter((pid) => titleOf(pid).startsWith('cleave work#'));

  before(async () => {
    app = await startCleave(['start', 'test/fixtures/autoscaled'], {
      CLEAVE_TASK_THREADS: '1',
      CLEAVE_ACCESS_LOG: 'false',
      CLEAVE_REPLICA_BUDGET: '4',
      // Two task workers may run even on a 2-core machine (the default leaves one core free).
      CLEAVE_TASK_WORKERS: '2',
    });
  });
  after(() => stopLeavingNothing(app));

  it('grows under load with no failed request, then shrinks after its window with none either', async () => {
    const initial = await statusOf(app.port);
    assert.deepEqual(initial.pools[0]?.replicas, { ready: 1, now: 1, desired: 1, min: 1, max: 3 });
    assert.deepEqual(
      initial.pools.map((pool) => [pool.service, pool.kind]),
      [
        ['work', 'requests'],
        ['work', 'tasks'],
      ],
    );
    // No NATS: the node is alone, and says so.
    assert.deepEqual(
      initial.nodes.map((node) => [node.self, node.address.endsWith(`:${app.port}`), node.pools.length]),
      [[true, true, 2]],
    );
    assert.equal(workers().length, 1);

    const burn = load(`${app.url}/burn?ms=4`, 6);
    let grown: AppStatus;
    try {
      grown = await until(
        async () => {
          const current = await statusOf(app.port);
          return (current.pools[0]?.replicas.ready ?? 0) >= 2 ? current : undefined;
        },
        20_000,
        'a second ready replica',
      );
      // The new replicas take traffic.
      await until(() => (burn.pids.size >= 2 ? true : undefined), 10_000, 'requests served by a new replica');
    } finally {
      await burn.stop();
    }
    assert.deepEqual(burn.failures, [], `${burn.failures.length} of ${burn.requests()} requests failed while growing`);
    const up = grown.decisions.find((decision) => decision.service === 'work' && decision.to > decision.from);
    assert.ok(up, 'a scale-up decision');
    assert.match(up.reason, /event loop/);
    assert.ok(up.signals.eventLoop > 0.5, `signals carried: ${JSON.stringify(up.signals)}`);
    assert.ok((grown.pools[0]?.scaled.up ?? 0) >= 1);
    assert.ok(app.logs.some((line) => line.msg === `scaled work up to ${up.to}` && line.reason === up.reason));

    // Calm, with sockets open and light traffic: the pool shrinks back to 1 after 2 s.
    const sockets: TestSocket[] = await Promise.all(
      Array.from({ length: 6 }, () => openSocket(`${app.url.replace('http', 'ws')}/ws`)),
    );
    const pids = await Promise.all(sockets.map(async (socket) => ((await socket.next()) as { pid: number }).pid));
    assert.ok(new Set(pids).size >= 2, 'the sockets spread over the replicas');
    const light = load(`${app.url}/pid`, 1, 20);
    let shrunk: AppStatus;
    try {
      shrunk = await until(
        async () => {
          const current = await statusOf(app.port);
          return current.pools[0]?.replicas.now === 1 && workers().length === 1 ? current : undefined;
        },
        20_000,
        'back to one replica',
      );
      // The light traffic goes on past the shrink: a request sent to a replica that just left would fail.
      await sleep(300);
    } finally {
      await light.stop();
    }
    assert.deepEqual(
      light.failures,
      [],
      `${light.failures.length} of ${light.requests()} requests failed while shrinking`,
    );
    assert.ok(light.requests() > 20, `light traffic ran: ${light.requests()}`);
    const down = shrunk.decisions.find((decision) => decision.service === 'work' && decision.to < decision.from);
    assert.ok(down, 'a scale-down decision');
    assert.match(down.reason, /below target for 2 s/);

    // Sockets held by the replicas that left were closed politely; the rest stay open. Those that
    // left are gone, so their sockets' close is waited for; for the others, a bounded wait that
    // would have seen them closed along with the rest.
    const remaining = workers();
    const results = await Promise.all(
      sockets.map(async (socket, index) => {
        const pid = pids[index] ?? 0;
        const timeoutMs = remaining.includes(pid) ? 200 : 5000;
        return { pid, closed: await Promise.race([socket.closed, sleep(timeoutMs).then(() => undefined)]) };
      }),
    );
    const onLeft = results.filter((result) => !remaining.includes(result.pid));
    assert.ok(onLeft.length > 0, `some sockets were on leaving replicas: ${JSON.stringify(results)}`);
    assert.deepEqual(
      onLeft.map((result) => result.closed?.code),
      onLeft.map(() => 1001),
    );
    assert.ok(results.filter((result) => remaining.includes(result.pid)).every((result) => !result.closed));
    for (const socket of sockets) socket.close();
  });

  it('grows the task pool with its queue, and shrinks it back when the queue is empty', async () => {
    const taskPool = async () => (await statusOf(app.port)).pools.find((pool) => pool.kind === 'tasks');
    // One worker, and one standby loaded beside it while the pool may still grow.
    await until(async () => ((await taskPool())?.standby === 1 ? true : undefined), 10_000, 'a standby worker');
    assert.equal((await taskPool())?.replicas.now, 1);
    const flood = load(`${app.url}/hash`, 6);
    let busy: AppStatus;
    try {
      busy = await until(
        async () => {
          const current = await statusOf(app.port);
          const tasks = current.pools.find((pool) => pool.kind === 'tasks');
          return (tasks?.replicas.ready ?? 0) >= 2 ? current : undefined;
        },
        20_000,
        'a second task worker',
      );
      await until(() => (flood.pids.size >= 2 ? true : undefined), 10_000, 'tasks run by the new worker');
    } finally {
      await flood.stop();
    }
    assert.deepEqual(flood.failures, [], `${flood.failures.length} of ${flood.requests()} tasks failed`);
    const up = busy.decisions.find((decision) => decision.service === 'work/tasks' && decision.to > decision.from);
    assert.ok(up, 'a task-pool decision');
    assert.match(up.reason, /tasks running or waiting for 1 workers, target 1 each/);
    assert.equal(busy.pools.find((pool) => pool.kind === 'tasks')?.standby, 0, 'at its max: no standby');
    await until(
      async () => {
        const tasks = await taskPool();
        return tasks?.replicas.now === 1 && tasks.standby === 1 ? true : undefined;
      },
      20_000,
      'back to one task worker and a standby',
    );
  });
});
