// Tasks as a user sees them, in both modes: awaited (ctx.run) and as jobs (ctx.enqueue,
// 202 + Location, then the job's status and result), failures as typed errors, and a
// bounded queue that refuses politely (503 + Retry-After) instead of growing. Split, they
// run in worker processes of their own, at a lower priority than the replicas.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetchStatus } from '../../src/cli/status.ts';
import { type CleaveProcess, niceOf, startCleave, stopLeavingNothing, titleOf } from '../helpers/spawn-cleave.ts';
import { sleep, until } from '../helpers/wait.ts';

for (const mode of ['dev', 'start'] as const) {
  describe(`tasks (cleave ${mode})`, { timeout: 60_000 }, () => {
    let app: CleaveProcess;
    before(async () => {
      app = await startCleave([mode, 'test/fixtures/jobs'], {
        CLEAVE_TASK_THREADS: '1',
        CLEAVE_TASK_QUEUE_MAX: '2',
        // Split: one request replica and one task worker, so the queue can fill.
        CLEAVE_REPLICA_BUDGET: '2',
        CLEAVE_TASK_WORKERS: '1',
        CLEAVE_ACCESS_LOG: 'false',
      });
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
      let read: { state: string; output?: number; finishedAt?: string } = { state: 'pending' };
      for (let tries = 0; tries < 100 && read.state === 'pending'; tries++) {
        read = (await (await fetch(`${app.url}${location}`)).json()) as typeof read;
        if (read.state === 'pending') await sleep(20);
      }
      assert.equal(read.state, 'succeeded');
      assert.equal(read.output, 49);
      assert.ok(read.finishedAt);

      const exploding = (await (await fetch(`${app.url}/jobs/explode`, { method: 'POST' })).json()) as { id: string };
      let failed: { state: string; error?: { code: string } } = { state: 'pending' };
      for (let tries = 0; tries < 100 && failed.state === 'pending'; tries++) {
        failed = (await (await fetch(`${app.url}/jobs/${exploding.id}`)).json()) as typeof failed;
        if (failed.state === 'pending') await sleep(20);
      }
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error?.code, 'CLEAVE_TASK_FAILED');
      assert.equal((await fetch(`${app.url}/jobs/no-such-job`)).status, 404);
    });

    it('refuses work past the queue bound with 503 and Retry-After, and runs what it took', async () => {
      // One worker busy, two waiting: the rest are refused at once.
      const responses = await Promise.all(Array.from({ length: 6 }, () => fetch(`${app.url}/busy/300`)));
      const statuses = responses.map((res) => res.status).sort();
      const refused = responses.filter((res) => res.status === 503);
      assert.ok(refused.length >= 1, `statuses: ${statuses.join(', ')}`);
      assert.ok(statuses.filter((status) => status === 200).length >= 3, `statuses: ${statuses.join(', ')}`);
      for (const res of refused) {
        assert.equal(res.headers.get('retry-after'), '1');
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'CLEAVE_TASK_QUEUE_FULL');
      }
    });

    if (mode === 'start') {
      it("runs tasks in a worker process of the service's own, niced below the replicas", async () => {
        const where = (await (await fetch(`${app.url}/where`)).json()) as { replica: number; task: number };
        assert.notEqual(where.task, where.replica);
        assert.equal(titleOf(where.task), 'cleave work/tasks#1');
        assert.ok(niceOf(where.task) > niceOf(where.replica), 'lower priority than the replica');
      });

      it('shows the task pool, its running tasks and its queue in cleave status', async () => {
        const requests = Array.from({ length: 3 }, () => fetch(`${app.url}/busy/500`));
        // Once all three have arrived: running or waiting, status must tell which.
        const tasks = await until(
          async () => {
            const pool = (await fetchStatus(app.port)).pools.find((candidate) => candidate.kind === 'tasks');
            return (pool?.inFlight ?? 0) + (pool?.queueDepth ?? 0) >= 3 ? pool : undefined;
          },
          5000,
          'three tasks in the pool',
          20,
        );
        assert.equal(tasks.service, 'work');
        assert.equal(tasks.inFlight, 1, 'one worker, one task at a time');
        assert.equal(tasks.queueDepth, 2);
        assert.deepEqual(tasks.replicas, { ready: 1, now: 1, desired: 1, min: 1, max: 1 });
        assert.deepEqual(
          (await Promise.all(requests)).map((res) => res.status),
          [200, 200, 200],
        );
      });
    } else {
      it('runs tasks on a worker thread of the one process', async () => {
        const where = (await (await fetch(`${app.url}/where`)).json()) as { replica: number; task: number };
        assert.equal(where.task, where.replica);
      });
    }
  });
}
