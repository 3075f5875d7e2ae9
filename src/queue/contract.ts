// The one test suite every TaskQueue adapter passes: worker threads (cleave dev), the
// supervisor's worker processes, the same over IPC from a replica, and JetStream when nodes
// share a NATS. `start` gives a started queue over the app in fixtures/tasks-app.ts with one
// worker and room for four tasks (`maxQueue: 4`); the suite stops it. What the bound counts
// differs: the tasks waiting for a worker, or (JetStream) those waiting and running.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskFailedError, TaskNotFoundError, TaskQueueFullError } from '../errors.ts';
import type { Job, TaskQueue } from './types.ts';

export interface TaskQueueUnderTest {
  queue: TaskQueue;
  /** Stops the queue and whatever it was made with. */
  stop(): Promise<void>;
}

export function taskQueueContract(name: string, start: () => Promise<TaskQueueUnderTest>): void {
  describe(`${name} (task queue contract)`, { timeout: 30_000 }, () => {
    let underTest: TaskQueueUnderTest;
    let queue: TaskQueue;
    before(async () => {
      underTest = await start();
      queue = underTest.queue;
    });
    after(() => underTest?.stop());

    /** The job once it is no longer pending. */
    async function finished(id: string): Promise<Job> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const job = await queue.job(id);
        assert.ok(job, `job ${id} is readable until it finishes`);
        if (job.state !== 'pending' || Date.now() > deadline) return job;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it('runs a task and resolves with its output', async () => {
      assert.equal(await queue.run('calc.square', 7), 49);
      assert.deepEqual(await Promise.all([3, 4, 5].map((n) => queue.run('calc.square', n))), [9, 16, 25]);
    });

    it("rejects with TaskFailedError carrying the task's own message when it throws", async () => {
      await assert.rejects(queue.run('calc.fail', null), (error: unknown) => {
        assert.ok(error instanceof TaskFailedError, String(error));
        assert.equal(error.code, 'CLEAVE_TASK_FAILED');
        assert.match(error.message, /task calc\.fail failed: boom/);
        return true;
      });
    });

    it('refuses a task no service declares with TaskNotFoundError, at once', async () => {
      await assert.rejects(queue.run('calc.nope', null), TaskNotFoundError);
      await assert.rejects(queue.enqueue('nobody.nothing', null), TaskNotFoundError);
    });

    it('runs a job: pending at once, then its output, readable by id', async () => {
      const job = await queue.enqueue('calc.square', 12);
      assert.equal(job.task, 'calc.square');
      assert.equal(job.state, 'pending');
      assert.ok(!Number.isNaN(Date.parse(job.createdAt)));
      const done = await finished(job.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.output, 144);
      assert.equal(done.createdAt, job.createdAt);
      assert.ok(done.finishedAt && Date.parse(done.finishedAt) >= Date.parse(job.createdAt));
    });

    it("keeps a failed job's error as code and message, never a stack", async () => {
      const job = await queue.enqueue('calc.fail', null);
      const done = await finished(job.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.error?.code, 'CLEAVE_TASK_FAILED');
      assert.match(done.error?.message ?? '', /boom/);
      assert.equal((done.error as { stack?: unknown } | undefined)?.stack, undefined);
      assert.equal(done.output, undefined);
    });

    it('answers undefined for a job it never had', async () => {
      assert.equal(await queue.job('00000000-0000-4000-8000-000000000000'), undefined);
    });

    it('refuses work past its bound with a retryable TaskQueueFullError, and runs what it took', async () => {
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => queue.run('calc.slow', 100)));
      const refused = results.filter((result) => result.status === 'rejected');
      assert.ok(refused.length >= 1, 'some were refused');
      for (const result of refused) {
        const error: unknown = result.reason;
        assert.ok(error instanceof TaskQueueFullError, String(error));
        assert.equal(error.retryable, true);
        assert.equal(error.status, 503);
      }
      assert.ok(results.length - refused.length >= 4, 'what the bound let in was run');
      // Refusing is momentary: once the queue has room, it takes work again.
      assert.equal(await queue.run('calc.square', 2), 4);
    });
  });
}
