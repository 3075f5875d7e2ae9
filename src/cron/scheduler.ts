// Runs the app's cron jobs. Every replica schedules every job; a lease named
// after the job and the tick decides which one runs it, so with a lock shared
// between processes a job runs once per tick however many replicas there are.
//
// croner reads the schedules (seconds, time zones, DST) but does not own the
// timers: its callback is told the wall-clock time it woke at, while the lease
// needs the tick it was due for, the same instant in every replica. Computing
// the next tick here gives that exact instant.

import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { ServiceContext } from '../app/context.ts';
import type { CronDefinition } from '../app/service.ts';
import { AppDefinitionError } from '../errors.ts';
import type { Lock } from '../lock/types.ts';
import { settledWithin } from '../shared/settle-within.ts';

export interface CronSchedulerOptions {
  lock: Lock;
  log: Logger;
  contextFor: (service: string) => ServiceContext;
  /**
   * Life of a tick's lease, which is never released so that a late replica
   * still finds the tick taken: it must outlast clock skew and timer delay
   * between replicas. The lease that keeps two replicas from running one job
   * at once lasts as long, so a run longer than this may overlap one elsewhere.
   * @default 60000
   */
  lockTtlMs?: number;
  /** How long stop() waits for runs in progress. @default 10000 */
  stopTimeoutMs?: number;
}

interface ScheduledJob {
  readonly definition: CronDefinition;
  /** `service.name`, as in logs and lease names. */
  readonly id: string;
  readonly pattern: Cron;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

// A timer does not notice the wall clock jumping or the machine sleeping, so a
// long wait is cut into slices and the clock read again after each (as croner does).
const MAX_TIMER_MS = 30_000;

export class CronScheduler {
  readonly #lock: Lock;
  readonly #log: Logger;
  readonly #contextFor: (service: string) => ServiceContext;
  readonly #lockTtlMs: number;
  readonly #stopTimeoutMs: number;
  #jobs: ScheduledJob[] = [];
  #stopped = true;

  constructor(options: CronSchedulerOptions) {
    this.#lock = options.lock;
    this.#log = options.log;
    this.#contextFor = options.contextFor;
    this.#lockTtlMs = options.lockTtlMs ?? 60_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  }

  /** Parses every schedule before arming any, so one bad expression starts nothing. */
  start(jobs: readonly CronDefinition[]): void {
    if (!this.#stopped) throw new Error('CronScheduler is already started');
    const scheduled = jobs.map(parseJob);
    this.#jobs = scheduled;
    this.#stopped = false;
    for (const job of scheduled) this.#armNext(job);
  }

  /** No tick fires after this; resolves when runs in progress end, or after stopTimeoutMs. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const jobs = this.#jobs;
    this.#jobs = [];
    for (const job of jobs) clearTimeout(job.timer);
    const running = jobs.flatMap((job) => (job.running ? [{ id: job.id, done: job.running }] : []));
    if (running.length === 0) return;
    const finished = await settledWithin(
      running.map((run) => run.done),
      this.#stopTimeoutMs,
    );
    if (!finished) {
      this.#log.warn(
        { jobs: running.map((run) => run.id), timeoutMs: this.#stopTimeoutMs },
        'cron runs still going at stop',
      );
    }
  }

  #armNext(job: ScheduledJob): void {
    const next = job.pattern.nextRun(new Date());
    if (next === null) {
      this.#log.warn({ job: job.id }, 'cron job has no future run; it is no longer scheduled');
      return;
    }
    this.#wait(job, next.getTime());
  }

  #wait(job: ScheduledJob, tick: number): void {
    const delay = Math.min(Math.max(tick - Date.now(), 0), MAX_TIMER_MS);
    job.timer = setTimeout(() => this.#onTimer(job, tick), delay);
  }

  #onTimer(job: ScheduledJob, tick: number): void {
    job.timer = undefined;
    if (this.#stopped) return;
    if (Date.now() < tick) return this.#wait(job, tick);
    this.#fire(job, tick);
    // From now, not from the tick: ticks missed while the process was stalled are skipped, not replayed.
    this.#armNext(job);
  }

  #fire(job: ScheduledJob, tick: number): void {
    if (job.running !== undefined) {
      this.#log.warn(
        { job: job.id, tick: new Date(tick).toISOString() },
        'cron tick skipped: the previous run is still going',
      );
      return;
    }
    const run = this.#runTick(job, tick);
    job.running = run;
    void run.finally(() => {
      if (job.running === run) job.running = undefined;
    });
  }

  /** Never rejects: a failing run or lock is logged and the schedule goes on. */
  async #runTick(job: ScheduledJob, tick: number): Promise<void> {
    const tickIso = new Date(tick).toISOString();
    const fields = { job: job.id, tick: tickIso };
    const runningLease = `cron:${job.id}:running`;
    try {
      if (!(await this.#lock.tryAcquire(`cron:${job.id}:${tickIso}`, this.#lockTtlMs))) {
        this.#log.debug(fields, 'cron tick taken by another replica');
        return;
      }
      // The local check in #fire only sees this process; this lease covers a
      // run still going in another replica that shares the lock.
      if (!(await this.#lock.tryAcquire(runningLease, this.#lockTtlMs))) {
        this.#log.warn(fields, 'cron tick skipped: the previous run is still going in another replica');
        return;
      }
    } catch (error) {
      this.#log.error({ ...fields, err: error }, 'cron tick skipped: the lock failed');
      return;
    }
    const started = performance.now();
    try {
      await job.definition.handler(this.#contextFor(job.definition.service));
      this.#log.debug({ ...fields, durationMs: elapsedSince(started) }, 'cron run finished');
    } catch (error) {
      this.#log.error({ ...fields, err: error, durationMs: elapsedSince(started) }, 'cron run failed');
    } finally {
      await this.#lock.release(runningLease).catch((error: unknown) => {
        this.#log.error({ ...fields, err: error }, 'cron lock release failed');
      });
    }
  }
}

function parseJob(definition: CronDefinition): ScheduledJob {
  const id = `${definition.service}.${definition.name}`;
  const where = definition.timezone === undefined ? '' : ` in time zone "${definition.timezone}"`;
  let pattern: Cron;
  let next: Date | null;
  try {
    pattern = new Cron(definition.schedule, {
      paused: true,
      mode: '5-or-6-parts',
      ...(definition.timezone === undefined ? {} : { timezone: definition.timezone }),
    });
    // Some mistakes (an unknown time zone) only show when a date is computed.
    next = pattern.nextRun();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppDefinitionError(`cron ${id}: invalid schedule "${definition.schedule}"${where}: ${reason}`, {
      cause: error,
    });
  }
  if (next === null) {
    throw new AppDefinitionError(`cron ${id}: schedule "${definition.schedule}"${where} never runs`);
  }
  return { definition, id, pattern, timer: undefined, running: undefined };
}

function elapsedSince(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
