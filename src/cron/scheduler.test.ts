// Time is fake: node:test's mock timers drive both setTimeout and Date (which
// croner reads), so a test of five one-second ticks takes milliseconds, not
// five seconds, and never flakes on a slow machine.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { pino } from 'pino';
import type { ServiceContext } from '../app/context.ts';
import type { CronDefinition } from '../app/service.ts';
import { AppDefinitionError } from '../errors.ts';
import { MemoryLock } from '../lock/memory.ts';
import type { Lock } from '../lock/types.ts';
import { CronScheduler } from './scheduler.ts';

const START = Date.parse('2030-01-01T00:00:00.500Z');

interface LogLine {
  level: number;
  msg: string;
  job?: string;
  tick?: string;
  durationMs?: number;
  err?: { message: string };
}

function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

function job(handler: CronDefinition['handler'], overrides: Partial<CronDefinition> = {}): CronDefinition {
  return { service: 'jobs', name: 'tick', schedule: '* * * * * *', timezone: undefined, handler, ...overrides };
}

function scheduler(options: { lock?: Lock; log?: pino.Logger; stopTimeoutMs?: number } = {}): CronScheduler {
  return new CronScheduler({
    lock: options.lock ?? new MemoryLock(),
    log: options.log ?? pino({ level: 'silent' }),
    contextFor: (service) => ({ service }) as ServiceContext,
    ...(options.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: options.stopTimeoutMs }),
  });
}

/** Lets promise chains (lock, handler, log) settle; setImmediate is not mocked. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves fake time one second at a time, letting each tick's run proceed. */
async function advanceSeconds(seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    mock.timers.tick(1000);
    await settle();
    await settle();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CronScheduler', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START }));
  afterEach(() => mock.timers.reset());

  test('runs a job on every tick, with its service context', async () => {
    const services: string[] = [];
    const cron = scheduler();
    cron.start([job((ctx) => void services.push(ctx.service))]);
    await advanceSeconds(5);
    await cron.stop();
    assert.deepEqual(services, ['jobs', 'jobs', 'jobs', 'jobs', 'jobs']);
  });

  test('logs each run at debug with its tick and duration', async () => {
    const { log, lines } = captureLog();
    const cron = scheduler({ log });
    cron.start([job(() => {})]);
    await advanceSeconds(1);
    await cron.stop();
    const finished = lines.find((line) => line.msg === 'cron run finished');
    assert.equal(finished?.level, 20);
    assert.equal(finished?.job, 'jobs.tick');
    assert.equal(finished?.tick, '2030-01-01T00:00:01.000Z');
    assert.equal(typeof finished?.durationMs, 'number');
  });

  test('takes one lease per tick, named after the job and the due instant', async () => {
    const names: string[] = [];
    const memory = new MemoryLock();
    const lock: Lock = {
      tryAcquire: (name, ttl) => (names.push(name), memory.tryAcquire(name, ttl)),
      release: (name) => memory.release(name),
    };
    const cron = scheduler({ lock });
    cron.start([job(() => {})]);
    await advanceSeconds(2);
    await cron.stop();
    const ticks = names.filter((name) => !name.endsWith(':running'));
    assert.deepEqual(ticks, ['cron:jobs.tick:2030-01-01T00:00:01.000Z', 'cron:jobs.tick:2030-01-01T00:00:02.000Z']);
  });

  test('a run still going when the next tick comes skips that tick', async () => {
    const { log, lines } = captureLog();
    let active = 0;
    let mostActive = 0;
    let runs = 0;
    const slow = deferred();
    const cron = scheduler({ log });
    cron.start([
      job(async () => {
        runs++;
        mostActive = Math.max(mostActive, ++active);
        if (runs === 1) await slow.promise;
        active--;
      }),
    ]);
    await advanceSeconds(4); // tick 1 starts a long run; ticks 2-4 find it going
    slow.resolve();
    await settle();
    await advanceSeconds(2); // ticks 5 and 6 run again
    await cron.stop();
    assert.equal(runs, 3);
    assert.equal(mostActive, 1);
    const skipped = lines.filter((line) => line.msg === 'cron tick skipped: the previous run is still going');
    assert.equal(skipped.length, 3);
    assert.ok(skipped.every((line) => line.level === 40 && line.job === 'jobs.tick'));
  });

  test('two schedulers sharing a lock run the job once per tick', async () => {
    const lock = new MemoryLock();
    const runsByReplica = [0, 0];
    const replicas = [0, 1].map((index) => {
      const cron = scheduler({ lock });
      cron.start([job(() => void runsByReplica[index]!++)]);
      return cron;
    });
    await advanceSeconds(6);
    await Promise.all(replicas.map((cron) => cron.stop()));
    assert.equal(runsByReplica[0]! + runsByReplica[1]!, 6);
  });

  // A replica whose timer fires late (a busy event loop, a slow lock store)
  // must find the tick taken even though the first run is long over.
  test('a replica that reaches a tick late still finds it taken', async () => {
    const shared = new MemoryLock();
    const lateLock: Lock = {
      tryAcquire: async (name, ttl) => {
        for (let i = 0; i < 5; i++) await settle();
        return shared.tryAcquire(name, ttl);
      },
      release: (name) => shared.release(name),
    };
    let runs = 0;
    const replicas = [scheduler({ lock: shared }), scheduler({ lock: lateLock })];
    for (const cron of replicas) cron.start([job(() => void runs++)]);
    for (let tick = 0; tick < 3; tick++) {
      mock.timers.tick(1000);
      for (let i = 0; i < 12; i++) await settle();
    }
    await Promise.all(replicas.map((cron) => cron.stop()));
    assert.equal(runs, 3);
  });

  // Per-process overlap protection alone would let replica B take tick 2 while
  // replica A is still in tick 1's run.
  test('a run going in one replica makes the others skip the next ticks', async () => {
    const lock = new MemoryLock();
    const slow = deferred();
    let active = 0;
    let mostActive = 0;
    let runs = 0;
    const handler = async (): Promise<void> => {
      runs++;
      mostActive = Math.max(mostActive, ++active);
      if (runs === 1) await slow.promise;
      active--;
    };
    const replicas = [scheduler({ lock }), scheduler({ lock })];
    for (const cron of replicas) cron.start([job(handler)]);
    await advanceSeconds(4);
    assert.equal(runs, 1);
    slow.resolve();
    await settle();
    await advanceSeconds(2);
    await Promise.all(replicas.map((cron) => cron.stop()));
    assert.equal(runs, 3);
    assert.equal(mostActive, 1);
  });

  test('a run that throws is logged and the schedule goes on', async () => {
    const { log, lines } = captureLog();
    let calls = 0;
    const cron = scheduler({ log });
    cron.start([
      job(() => {
        calls++;
        throw new Error('sync failure');
      }),
      job(async () => Promise.reject(new Error('async failure')), { name: 'rejects' }),
    ]);
    await advanceSeconds(3);
    await cron.stop();
    assert.equal(calls, 3);
    const failures = lines.filter((line) => line.msg === 'cron run failed');
    assert.equal(failures.length, 6);
    assert.ok(failures.every((line) => line.level === 50));
    assert.deepEqual(
      new Set(failures.map((line) => `${line.job}: ${line.err?.message}`)),
      new Set(['jobs.tick: sync failure', 'jobs.rejects: async failure']),
    );
  });

  test('a lock that fails skips the tick, logs it, and the schedule goes on', async () => {
    const { log, lines } = captureLog();
    let attempts = 0;
    const lock: Lock = {
      tryAcquire: async () => (++attempts === 1 ? Promise.reject(new Error('lock store down')) : true),
      release: async () => {},
    };
    let runs = 0;
    const cron = scheduler({ lock, log });
    cron.start([job(() => void runs++)]);
    await advanceSeconds(2);
    await cron.stop();
    assert.equal(runs, 1);
    assert.ok(
      lines.some(
        (line) => line.msg === 'cron tick skipped: the lock failed' && line.err?.message === 'lock store down',
      ),
    );
  });

  test('an invalid expression fails start, names the job and arms nothing', async () => {
    let runs = 0;
    const cron = scheduler();
    const good = job(() => void runs++, { name: 'good' });
    assert.throws(
      () => cron.start([good, job(() => {}, { name: 'nightly', schedule: '61 * * * * *' })]),
      (error: unknown) => {
        assert.ok(error instanceof AppDefinitionError);
        assert.equal(error.code, 'CLEAVE_APP_INVALID');
        assert.match(error.message, /jobs\.nightly/);
        assert.match(error.message, /61 \* \* \* \* \*/);
        return true;
      },
    );
    assert.throws(() => cron.start([job(() => {}, { schedule: '* * * * * * *' })]), AppDefinitionError);
    assert.throws(() => cron.start([job(() => {}, { timezone: 'Mars/Olympus_Mons' })]), /Mars\/Olympus_Mons/);
    assert.throws(() => cron.start([job(() => {}, { schedule: '0 0 0 30 2 *' })]), /never runs/);
    await advanceSeconds(2);
    assert.equal(runs, 0);
    await cron.stop();
  });

  test('reads a schedule in the job time zone', async () => {
    mock.timers.setTime(Date.parse('2030-01-01T23:59:58.500Z'));
    const ran: string[] = [];
    const cron = scheduler();
    // 09:00 in Tokyo (UTC+9) is midnight UTC.
    cron.start([
      job(() => void ran.push(new Date().toISOString()), { schedule: '0 0 9 * * *', timezone: 'Asia/Tokyo' }),
    ]);
    await advanceSeconds(1);
    assert.deepEqual(ran, []);
    await advanceSeconds(1);
    await cron.stop();
    assert.equal(ran.length, 1);
    assert.match(ran[0]!, /^2030-01-02T00:00:00/);
  });

  test('a five-field expression runs at second zero of its minute', async () => {
    mock.timers.setTime(Date.parse('2030-01-01T00:00:57.500Z'));
    let runs = 0;
    const cron = scheduler();
    cron.start([job(() => void runs++, { schedule: '* * * * *' })]);
    await advanceSeconds(2);
    assert.equal(runs, 0);
    await advanceSeconds(1);
    await cron.stop();
    assert.equal(runs, 1);
  });

  test('an hourly job runs on the hour', async () => {
    let runs = 0;
    const cron = scheduler();
    cron.start([job(() => void runs++, { schedule: '0 0 * * * *' })]); // hourly, at 01:00:00
    await advanceSeconds(3599);
    assert.equal(runs, 0);
    await advanceSeconds(1);
    await cron.stop();
    assert.equal(runs, 1);
  });

  test('stop() ends the schedule and waits for the run in progress', async () => {
    const slow = deferred();
    let runs = 0;
    let finished = false;
    const cron = scheduler();
    cron.start([
      job(async () => {
        runs++;
        await slow.promise;
        finished = true;
      }),
    ]);
    await advanceSeconds(1);
    let stopped = false;
    const stopping = cron.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false);
    slow.resolve();
    await stopping;
    assert.equal(finished, true);
    await advanceSeconds(3);
    assert.equal(runs, 1);
  });

  test('stop() gives up on a run that outlasts stopTimeoutMs', async () => {
    const { log, lines } = captureLog();
    const cron = scheduler({ log, stopTimeoutMs: 5_000 });
    cron.start([job(() => new Promise(() => {}))]);
    await advanceSeconds(1);
    const stopping = cron.stop();
    await advanceSeconds(5);
    await stopping;
    assert.ok(lines.some((line) => line.msg === 'cron runs still going at stop' && line.level === 40));
  });

  test('start() after stop() schedules again; start() twice throws', async () => {
    let runs = 0;
    const cron = scheduler();
    cron.start([job(() => void runs++)]);
    assert.throws(() => cron.start([]), /already started/);
    await cron.stop();
    cron.start([job(() => void runs++)]);
    await advanceSeconds(2);
    await cron.stop();
    assert.equal(runs, 2);
  });
});
