import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ShuttingDownError, TaskFailedError, TaskNotFoundError, TaskQueueFullError } from '../errors.ts';
import app, { square, type BusyReport } from './fixtures/tasks-app.ts';
import { WorkerTaskQueue } from './worker-pool.ts';

const APP_MODULE = fileURLToPath(new URL('./fixtures/tasks-app.ts', import.meta.url));

/** Most threads whose [startedAt, endedAt] intervals cover one instant. */
function maxOverlap(reports: readonly BusyReport[]): number {
  const edges = reports.flatMap((r) => [
    { at: r.startedAt, delta: 1 },
    { at: r.endedAt, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (current += edge.delta));
  return most;
}

/** Runs `work` while a 10 ms interval ticks; answers the longest gap between ticks. */
async function longestTimerGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(ticker);
  }
  return Math.max(longest, performance.now() - last);
}

describe('WorkerTaskQueue', () => {
  const queue = new WorkerTaskQueue({ app, appModule: APP_MODULE, minThreads: 2, maxThreads: 2 });

  before(async () => {
    const started = performance.now();
    await queue.start();
    // start() must not wait for workers to load tsx and the app (hundreds of ms).
    assert.ok(performance.now() - started < 200, `start took ${performance.now() - started} ms`);
    await Promise.all([queue.run('calc.slow', 20), queue.run('calc.slow', 20)]);
  });
  after(() => queue.stop());

  test('returns the output of a task', async () => {
    assert.equal(await queue.run('calc.square', 7), 49);
    assert.equal(await queue.run(square.id, 12), 144);
  });

  test('a task that throws rejects with TaskFailedError carrying its message', async () => {
    await assert.rejects(queue.run('calc.fail', null), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError);
      assert.equal(error.code, 'CLEAVE_TASK_FAILED');
      assert.equal(error.task, 'calc.fail');
      assert.match(error.message, /boom/);
      assert.equal((error.cause as Error).message, 'boom');
      return true;
    });
  });

  // postMessage alone would turn QuotaError into a plain Error and drop `code`.
  test("the cause keeps the task error's name, code and worker stack", async () => {
    await assert.rejects(queue.run('calc.reject', null), (error: unknown) => {
      const cause = (error as TaskFailedError).cause as Error & { code?: string };
      assert.equal(cause.name, 'QuotaError');
      assert.equal(cause.code, 'QUOTA_EXCEEDED');
      assert.match(cause.stack ?? '', /tasks-app\.ts/);
      return true;
    });
  });

  test('an unknown task is refused on the calling thread', async () => {
    // This queue's workers could never load an app; the answer must not depend on them.
    const unstarted = new WorkerTaskQueue({ app, appModule: '/nowhere/app.ts' });
    await assert.rejects(unstarted.run('calc.nope', 1), TaskNotFoundError);
    await assert.rejects(unstarted.run('nodot', 1), TaskNotFoundError);
    await unstarted.stop();
  });

  test('the hash task runs scrypt off the main thread', async () => {
    const hex = (await queue.run('calc.hash', 'correct horse')) as string;
    assert.match(hex, /^[0-9a-f]{128}$/);
    assert.equal(await queue.run('calc.hash', 'correct horse'), hex);
  });

  // The point of tasks: CPU-bound work must not stall timers, sockets or requests.
  test('the event loop keeps ticking while CPU-heavy tasks run', async () => {
    // A task run on this thread would stall it for its whole 400 ms; the bound leaves room for
    // a 2-core machine whose two cores the task threads (and a test file beside) keep busy.
    const gap = await longestTimerGap(() => Promise.all([1, 2, 3, 4].map(() => queue.run('calc.slow', 400))));
    assert.ok(gap < 250, `event loop stalled for ${gap.toFixed(1)} ms`);
  });

  test('tasks run in parallel, never on more than maxThreads threads', async () => {
    const reports = (await Promise.all([1, 2, 3, 4].map(() => queue.run('calc.slow', 150)))) as BusyReport[];
    assert.equal(maxOverlap(reports), 2);
    assert.equal(new Set(reports.map((r) => r.threadId)).size, 2);
  });

  test('an output that cannot be cloned fails that task, not the queue', async () => {
    await assert.rejects(queue.run('calc.unclonable', null), TaskFailedError);
    assert.equal(await queue.run('calc.square', 3), 9);
  });

  test('an input that cannot be cloned fails with TaskFailedError', async () => {
    await assert.rejects(
      queue.run('calc.square', () => 3),
      (error: unknown) => {
        assert.ok(error instanceof TaskFailedError);
        assert.match(error.message, /could not be cloned/);
        return true;
      },
    );
  });

  test('a task that kills its worker fails; the next task gets a fresh worker', async () => {
    await assert.rejects(queue.run('calc.crash', null), /exited with code: 7/);
    assert.equal(await queue.run('calc.square', 4), 16);
  });

  test('an abort rejects with AbortError and frees the thread at once', async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 50); // while the 5 s task runs on a loaded worker
    await assert.rejects(queue.run('calc.slow', 5_000, { signal: controller.signal }), { name: 'AbortError' });
    assert.ok(performance.now() - started < 1_000);
    await assert.rejects(queue.run('calc.square', 2, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(await queue.run('calc.square', 5), 25);
  });
});

describe('WorkerTaskQueue start-up and shutdown', () => {
  test('a queue at its bound refuses new work with a retryable TaskQueueFullError', async () => {
    const queue = new WorkerTaskQueue({ app, appModule: APP_MODULE, minThreads: 1, maxThreads: 1, maxQueue: 1 });
    await queue.start();
    // With the worker loaded, the slow task is running, not waiting: the queue holds only what follows.
    assert.equal(await queue.run('calc.square', 2), 4);
    const running = queue.run('calc.slow', 300);
    const queued = queue.run('calc.square', 3);
    await assert.rejects(queue.run('calc.square', 4), (error: unknown) => {
      assert.ok(error instanceof TaskQueueFullError);
      assert.equal(error.code, 'CLEAVE_TASK_QUEUE_FULL');
      assert.equal(error.status, 503);
      assert.equal(error.retryable, true);
      return true;
    });
    assert.equal(await queued, 9, 'the work already queued still runs');
    await running;
    await queue.stop();
  });

  // piscina keeps a task queued forever when every worker dies while booting.
  test('an app that fails to load in a worker fails the task instead of hanging it', async () => {
    const queue = new WorkerTaskQueue({ app, appModule: '/nowhere/app.ts', maxThreads: 1 });
    await assert.rejects(queue.run('calc.square', 2), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError);
      assert.match(error.message, /failed to load in a worker thread/);
      return true;
    });
    await queue.stop();
  });

  test('stop() lets running tasks finish, then refuses new ones', async () => {
    const queue = new WorkerTaskQueue({ app, appModule: APP_MODULE, maxThreads: 1 });
    await queue.start();
    assert.equal(await queue.run('calc.square', 2), 4, 'the worker has loaded');
    const running = queue.run('calc.slow', 300);
    const queued = queue.run('calc.square', 6);
    const stopped = queue.stop();
    await assert.rejects(queue.run('calc.square', 1), ShuttingDownError);
    await stopped;
    assert.equal(((await running) as BusyReport).endedAt > 0, true);
    assert.equal(await queued, 36);
  });

  test('stop() gives up on a task that outlives stopTimeoutMs', async () => {
    const queue = new WorkerTaskQueue({ app, appModule: APP_MODULE, maxThreads: 1, stopTimeoutMs: 100 });
    // A loaded worker starts the task at once, well within the 100 ms stop() waits.
    assert.equal(await queue.run('calc.square', 2), 4);
    const running = queue.run('calc.slow', 5_000);
    running.catch(() => {});
    const started = performance.now();
    await queue.stop();
    assert.ok(performance.now() - started < 1_000);
    await assert.rejects(running, ShuttingDownError);
  });

  // Idle piscina workers are unref'd, so a process would exit even with a pool
  // left open; what stop() must guarantee is that no thread is left behind.
  test(
    'stop() ends every worker thread',
    { skip: process.platform !== 'linux' && 'counts /proc/self/task' },
    async () => {
      const threads = (): number => readdirSync('/proc/self/task').length;
      await stat('.'); // starts libuv's thread pool now, so it cannot skew the count later
      const before = threads();
      const queue = new WorkerTaskQueue({ app, appModule: APP_MODULE, minThreads: 2, maxThreads: 2 });
      await queue.start();
      await Promise.all([queue.run('calc.slow', 50), queue.run('calc.slow', 50)]);
      assert.ok(threads() >= before + 2, `expected 2 more threads than ${before}, found ${threads()}`);
      await queue.stop();
      assert.equal(threads(), before);
    },
  );
});
