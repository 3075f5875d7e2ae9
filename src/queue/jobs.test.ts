import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskQueueFullError } from '../errors.ts';
import { JobTable } from './jobs.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('JobTable', () => {
  it('returns a pending job at once, then its output or its error', async () => {
    let finish: (value: unknown) => void = () => {};
    const jobs = new JobTable({
      admit: () => {},
      run: (task) =>
        task === 'fails' ? Promise.reject(new Error('boom')) : new Promise((resolve) => (finish = resolve)),
    });
    const job = jobs.enqueue('ok', 1);
    assert.equal(job.state, 'pending');
    assert.equal(jobs.get(job.id)?.state, 'pending');
    finish(42);
    await tick();
    assert.deepEqual(
      { ...jobs.get(job.id), createdAt: '', finishedAt: '' },
      {
        id: job.id,
        task: 'ok',
        state: 'succeeded',
        output: 42,
        createdAt: '',
        finishedAt: '',
      },
    );
    const failing = jobs.enqueue('fails', 1);
    await tick();
    assert.equal(jobs.get(failing.id)?.state, 'failed');
    assert.deepEqual(jobs.get(failing.id)?.error, { code: 'CLEAVE_INTERNAL', message: 'internal error', status: 500 });
  });

  it('refuses what admit refuses, with no job made', () => {
    const jobs = new JobTable({
      admit: () => {
        throw new TaskQueueFullError('full');
      },
      run: () => Promise.resolve(),
    });
    assert.throws(() => jobs.enqueue('t', 1), { code: 'CLEAVE_TASK_QUEUE_FULL' });
    assert.equal(jobs.size, 0);
  });

  it('forgets finished jobs after their TTL, and the oldest past maxFinished', async () => {
    let now = 0;
    const jobs = new JobTable(
      { admit: () => {}, run: () => Promise.resolve('done') },
      { ttlMs: 1000, maxFinished: 2, now: () => now },
    );
    const first = jobs.enqueue('t', 1);
    const second = jobs.enqueue('t', 2);
    const third = jobs.enqueue('t', 3);
    await tick();
    assert.equal(jobs.get(first.id), undefined, 'over maxFinished: the oldest goes');
    assert.equal(jobs.get(second.id)?.state, 'succeeded');
    now = 1001;
    assert.equal(jobs.get(third.id), undefined, 'past its TTL');
    assert.equal(jobs.size, 0);
  });
});
