// Tasks as a user sees them, in both modes: awaited (ctx.run) and as jobs (ctx.enqueue,
// 202 + Location, then the job's status and result), failures as typed errors, and a
// bounded queue that refuses politely (503 + Retry-After) instead of growing. Split, they
// run in worker processes of their own, at a lower priority than the replicas; split with a
// NATS, they wait in JetStream, where the workers of every node take them, and a task whose
// node dies is run by another.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { fetchStatus } from '../../src/cli/status.ts';
import { deadTaskSubject, resourceName } from '../../src/nats/subjects.ts';
import { connectNats, forgetTasks, NATS_URL } from '../helpers/nats.ts';
import { type OwnNatsServer, startNatsServer } from '../helpers/nats-server.ts';
import {
  childPids,
  type CleaveProcess,
  niceOf,
  startCleave,
  stopLeavingNothing,
  titleOf,
} from '../helpers/spawn-cleave.ts';
import { sleep, until } from '../helpers/wait.ts';

const modes = [
  { name: 'cleave dev', command: 'dev', env: {} },
  { name: 'cleave start', command: 'start', env: {} },
  {
    name: 'cleave start, tasks on NATS JetStream',
    command: 'start',
    env: { CLEAVE_NATS_URL: NATS_URL, CLEAVE_TASK_MAX_DELIVERIES: '2', CLEAVE_TASK_ACK_WAIT_MS: '2000' },
  },
] as const;

const settings = {
  CLEAVE_TASK_THREADS: '1',
  CLEAVE_TASK_QUEUE_MAX: '2',
  // Split: one request replica and one task worker, so the queue can fill.
  CLEAVE_REPLICA_BUDGET: '2',
  CLEAVE_TASK_WORKERS: '1',
  CLEAVE_ACCESS_LOG: 'false',
};

interface JobView {
  id: string;
  state: string;
  output?: number;
  finishedAt?: string;
  error?: { code: string };
}

/** Reads the job at `location` through `url` until it is no longer pending. */
async function finished(url: string, location: string, timeoutMs = 2000): Promise<JobView> {
  return until(
    async () => {
      const response = await fetch(`${url}${location}`);
      // A 503 (NATS away) is no answer yet.
      if (response.status === 503) return undefined;
      const job = (await response.json()) as JobView;
      return job.state === 'pending' ? undefined : job;
    },
    timeoutMs,
    `job ${location} finished`,
    20,
  );
}

for (const mode of modes) {
  const split = mode.command === 'start';
  const onNats = 'CLEAVE_NATS_URL' in mode.env;
  describe(`tasks (${mode.name})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      // The fixture's name is fixed: what an earlier run left in JetStream is not this one's.
      if (onNats) await forgetTasks('jobs');
      app = await startCleave([mode.command, 'test/fixtures/jobs'], { ...settings, ...mode.env });
    });
    after(() => stopLeavingNothing(app));

    it('awaits a task and returns its output; a throwing task is a typed 500', async () => {
      assert.deepEqual(await (await fetch(`${app.url}/square/12`)).json(), { result: 144 });
      const failed = await fetch(`${app.url}/explode`);
      assert.equal(failed.status, 500);
      const body = (await failed.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'CLEAVE_TASK_FAILED');
      assert.match(body.error.message, /task work\.explode failed: task exploded/);
    });

    it('runs a job: 202 with a Location, then its status and result there', async () => {
      const accepted = await fetch(`${app.url}/jobs/square/7`, { method: 'POST' });
      assert.equal(accepted.status, 202);
      const location = accepted.headers.get('location') ?? '';
      const job = (await accepted.json()) as { id: string; state: string; task: string };
      assert.equal(location, `/jobs/${job.id}`);
      assert.equal(job.task, 'work.square');
      const read = await finished(app.url, location);
      assert.equal(read.state, 'succeeded');
      assert.equal(read.output, 49);
      assert.ok(read.finishedAt);

      const exploding = (await (await fetch(`${app.url}/jobs/explode`, { method: 'POST' })).json()) as { id: string };
      const failed = await finished(app.url, `/jobs/${exploding.id}`);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error?.code, 'CLEAVE_TASK_FAILED');
      assert.equal((await fetch(`${app.url}/jobs/no-such-job`)).status, 404);
    });

    it('refuses work past the queue bound with 503 and Retry-After, and runs what it took', async () => {
      // One worker busy, two waiting: the rest are refused at once. JetStream's bound counts
      // the running task too (it is not acknowledged yet): one running, one waiting.
      const responses = await Promise.all(Array.from({ length: 6 }, () => fetch(`${app.url}/busy/300`)));
      const statuses = responses.map((res) => res.status).sort();
      const refused = responses.filter((res) => res.status === 503);
      assert.ok(refused.length >= 1, `statuses: ${statuses.join(', ')}`);
      const taken = onNats ? 2 : 3;
      assert.ok(statuses.filter((status) => status === 200).length >= taken, `statuses: ${statuses.join(', ')}`);
      for (const res of refused) {
        assert.equal(res.headers.get('retry-after'), '1');
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_TASK_QUEUE_FULL');
      }
    });

    if (split) {
      it("runs tasks in a worker process of the service's own, niced below the replicas", async () => {
        const where = (await (await fetch(`${app.url}/where`)).json()) as { replica: number; task: number };
        assert.notEqual(where.task, where.replica);
        assert.equal(titleOf(where.task), 'cleave work/tasks#1');
        assert.ok(niceOf(where.task) > niceOf(where.replica), 'lower priority than the replica');
      });

      it('shows the task pool, its running tasks and its queue in cleave status', async () => {
        // On JetStream the bound holds the running task too: one running, one waiting; and the
        // waiting one is counted at a delivery or at the next read (every second), so each
        // task outlasts a read.
        const count = onNats ? 2 : 3;
        const ms = onNats ? 1500 : 500;
        const requests = Array.from({ length: count }, () => fetch(`${app.url}/busy/${ms}`));
        // Once all have arrived: running or waiting, status must tell which.
        const tasks = await until(
          async () => {
            const pool = (await fetchStatus(app.port)).pools.find((candidate) => candidate.kind === 'tasks');
            return (pool?.inFlight ?? 0) + (pool?.queueDepth ?? 0) >= count ? pool : undefined;
          },
          5000,
          `${count} tasks in the pool`,
          20,
        );
        assert.equal(tasks.service, 'work');
        assert.equal(tasks.inFlight, 1, 'one worker, one task at a time');
        assert.equal(tasks.queueDepth, count - 1);
        assert.deepEqual(tasks.replicas, { ready: 1, now: 1, desired: 1, min: 1, max: 1 });
        assert.deepEqual(
          (await Promise.all(requests)).map((res) => res.status),
          requests.map(() => 200),
        );
      });

      it('fails a task that kills its worker on every try with CLEAVE_TASK_WORKER_LOST, and runs the next', async () => {
        const lost = await fetch(`${app.url}/die`);
        assert.equal(lost.status, 500);
        const body = (await lost.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'CLEAVE_TASK_WORKER_LOST');
        assert.match(body.error.message, /task work\.die was not finished: its worker died/);
        if (onNats) {
          // Kept for the operator, with the reason, on the service's dead-task subject.
          const nats = await connectNats();
          try {
            const manager = await jetstreamManager(nats.client);
            const dead = await manager.streams.getMessage(resourceName('jobs', 'dead_tasks'), {
              last_by_subj: deadTaskSubject('jobs', 'work'),
            });
            assert.equal(dead?.header.get('Cleave-Task'), 'work.die');
            assert.match(dead?.header.get('Cleave-Reason') ?? '', /died on each of 2 deliveries/);
          } finally {
            await nats.stop();
          }
        }
        // The pool replaced its worker: the next task runs.
        const next = await until(
          async () => {
            const res = await fetch(`${app.url}/square/3`);
            return res.status === 200 ? res.json() : undefined;
          },
          10_000,
          'a task runs after the worker was replaced',
          100,
        );
        assert.deepEqual(next, { result: 9 });
      });
    } else {
      it('runs tasks on a worker thread of the one process', async () => {
        const where = (await (await fetch(`${app.url}/where`)).json()) as { replica: number; task: number };
        assert.equal(where.task, where.replica);
      });
    }
  });
}

describe('tasks on NATS JetStream, two nodes', { timeout: 60_000 }, () => {
  let a: CleaveProcess;
  let b: CleaveProcess;
  /** The node the test kills: nothing of it is left to stop. */
  let killed: CleaveProcess | undefined;
  before(async () => {
    await forgetTasks('jobs');
    const env = { ...settings, CLEAVE_NATS_URL: NATS_URL, CLEAVE_TASK_ACK_WAIT_MS: '2000' };
    [a, b] = await Promise.all([
      startCleave(['start', 'test/fixtures/jobs'], env),
      startCleave(['start', 'test/fixtures/jobs'], env),
    ]);
  });
  after(async () => {
    await Promise.all([a, b].filter((node) => node && node !== killed).map((node) => stopLeavingNothing(node)));
  });

  it('runs a job whose node is killed mid-task on the other node, and either node reads it', async () => {
    const accepted = await fetch(`${a.url}/jobs/busy/3000`, { method: 'POST' });
    assert.equal(accepted.status, 202);
    const location = accepted.headers.get('location') ?? '';
    // Both nodes take from one queue: whichever runs it is killed, every process of it.
    const [running, other] = await until(
      async () => {
        for (const [node, rest] of [
          [a, b],
          [b, a],
        ] as const) {
          const pool = (await fetchStatus(node.port)).pools.find((candidate) => candidate.kind === 'tasks');
          if (pool?.inFlight === 1) return [node, rest] as const;
        }
        return undefined;
      },
      5000,
      'the job running on a node',
      50,
    );
    killed = running;
    for (const pid of [running.child.pid!, ...childPids(running.child.pid!)]) process.kill(pid, 'SIGKILL');
    assert.equal(((await (await fetch(`${other.url}${location}`)).json()) as JobView).state, 'pending');
    // Delivered again once the ack wait (2 s) has passed, and run for 3 s more.
    const job = await finished(other.url, location, 15_000);
    assert.equal(job.state, 'succeeded');
    assert.equal(job.output, 3000);
  });
});

describe('tasks on NATS JetStream when NATS itself is restarted', { timeout: 60_000 }, () => {
  // A server of the test's own: the machine's is shared with every other test.
  let nats: OwnNatsServer;
  let app: CleaveProcess;
  before(async () => {
    nats = await startNatsServer();
    app = await startCleave(['start', 'test/fixtures/jobs'], {
      ...settings,
      CLEAVE_TASK_QUEUE_MAX: '20',
      CLEAVE_NATS_URL: nats.url,
      CLEAVE_TASK_ACK_WAIT_MS: '2000',
    });
  });
  after(async () => {
    if (app) await stopLeavingNothing(app);
    await nats?.close();
  });

  it('loses no job queued before NATS went down, refuses new ones at once meanwhile, and goes on after', async () => {
    const locations: string[] = [];
    for (let job = 0; job < 4; job++) {
      const accepted = await fetch(`${app.url}/jobs/busy/300`, { method: 'POST' });
      assert.equal(accepted.status, 202);
      locations.push(accepted.headers.get('location') ?? '');
    }
    await sleep(100); // the first is running: one worker
    await nats.kill();
    await sleep(100); // the client hears its socket close
    await until(
      async () => ((await fetch(`${app.url}/jobs/square/2`, { method: 'POST' })).status === 503 ? true : undefined),
      2000,
      'the node notices NATS is gone',
      50,
    );
    const started = Date.now();
    const refused = await fetch(`${app.url}/jobs/square/3`, { method: 'POST' });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'CLEAVE_NATS_UNAVAILABLE');
    assert.ok(Date.now() - started < 500, 'refused at once, not after a timeout');

    await sleep(500);
    await nats.start();
    for (const location of locations) {
      const job = await finished(app.url, location, 20_000);
      assert.equal(job.state, 'succeeded', location);
      assert.equal(job.output, 300);
    }
    assert.deepEqual(await (await fetch(`${app.url}/square/5`)).json(), { result: 25 });
  });
});
