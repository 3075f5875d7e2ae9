// Feeds one service's task workers on this node from the service's JetStream consumer
// (jetstream-queue.ts), which every node's feeder shares: it takes a task only while a worker
// here is free, so waiting work stays in the stream where any node's free worker can take it.
//
// Delivery is at least once. While a task runs, the feeder tells JetStream it is still
// working (every third of the ack wait), so a long task is not delivered again; a node that
// dies stops saying so, and its tasks go to another node once the ack wait has passed. A
// worker that dies under a task gives it back at once (nak). A task delivered more than
// `maxDeliveries` times is dead-lettered rather than run: whatever it does kills workers.
// A task that throws is a result like any other: answered, and never run again.

import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ShuttingDownError, TaskWorkerLostError } from '../errors.ts';
import { Outage } from '../shared/outage.ts';
import type { JetStreamQueue } from './jetstream-queue.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

/** Where the tasks run: a service's pool of worker processes on this node. */
export interface TaskExecutor {
  /** Workers that can take a task now or once their current one ends. */
  readonly readyCount: number;
  run(task: string, input: unknown, trace?: TraceCarrier): Promise<unknown>;
}

export interface TaskFeederOptions {
  service: string;
  queue: JetStreamQueue;
  executor: TaskExecutor;
  log: Logger;
  ackWaitMs: number;
  maxDeliveries: number;
}

/** One pull waits this long for a task before asking again (and seeing whether to stop). */
const PULL_EXPIRES_MS = 1000;
/** How often the backlog (tasks waiting on every node) is read for the autoscaler. */
const BACKLOG_EVERY_MS = 1000;
/** With no free worker, or NATS away, how long to wait before looking again. */
const IDLE_WAIT_MS = 100;
/** A task given back after its worker died waits this long: the pool is replacing the worker. */
const REDELIVER_DELAY_MS = 500;

export class TaskFeeder {
  readonly #options: TaskFeederOptions;
  readonly #outage: Outage;
  /** Tasks taken and not yet settled (answered, acknowledged or given back). */
  readonly #taken = new Set<Promise<void>>();
  /** Of those, the ones a worker still runs: the next is taken as soon as one is done. */
  #running = 0;
  #backlog = 0;
  #backlogReadAt = 0;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: TaskFeederOptions) {
    this.#options = options;
    this.#outage = new Outage(
      options.log,
      { service: options.service },
      {
        failedMessage: 'cannot take tasks from NATS JetStream; trying again',
        resumedMessage: 'taking tasks from NATS JetStream again',
      },
    );
  }

  /** Tasks of this service waiting on every node, as last read (for the autoscaler). */
  get backlog(): number {
    return this.#backlog;
  }

  start(): void {
    this.#loop ??= this.#feed();
  }

  /** Takes no new task and waits (up to the pull's expiry) until it has stopped asking. */
  async stopTaking(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
  }

  /** Waits until every task taken is settled (the pool's stop finishes or gives them back). */
  async stop(): Promise<void> {
    await this.stopTaking();
    await Promise.all(this.#taken);
  }

  async #feed(): Promise<void> {
    let consumer: Consumer | undefined;
    while (!this.#stopping) {
      try {
        consumer ??= await this.#options.queue.consumer(this.#options.service);
        await this.#readBacklog(consumer);
        if (this.#running >= this.#options.executor.readyCount) {
          await this.#pause();
          continue;
        }
        const message = await consumer.next({ expires: PULL_EXPIRES_MS });
        this.#outage.succeeded();
        if (message === null) continue;
        // What still waits behind it, as the server counted at delivery: fresher than a read.
        this.#backlog = message.info.pending;
        if (this.#stopping) {
          message.nak();
          break;
        }
        const settled = this.#take(message).finally(() => this.#taken.delete(settled));
        this.#taken.add(settled);
      } catch (error) {
        this.#outage.failed(error, 0);
        await this.#pause();
      }
    }
  }

  async #take(message: JsMsg): Promise<void> {
    const { queue, executor, service, maxDeliveries, ackWaitMs, log } = this.#options;
    const deliveries = message.info.deliveryCount;
    try {
      if (deliveries > maxDeliveries) {
        await queue.deadLetter(message, service, `its worker died on each of ${maxDeliveries} deliveries`);
        return;
      }
      const { task, input, trace } = queue.taskOf(message);
      const heartbeat = setInterval(() => message.working(), ackWaitMs / 3);
      let outcome;
      this.#running += 1;
      try {
        outcome = { output: await executor.run(task, input, trace) };
      } catch (error) {
        if (error instanceof ShuttingDownError) {
          // Not run here: another node (or this one, restarted) takes it at once.
          message.nak();
          return;
        }
        if (error instanceof TaskWorkerLostError) {
          if (deliveries >= maxDeliveries) {
            await queue.deadLetter(message, service, `its worker died on each of ${deliveries} deliveries`);
          } else {
            message.nak(REDELIVER_DELAY_MS);
          }
          return;
        }
        outcome = { error };
      } finally {
        clearInterval(heartbeat);
        // Its worker is free: the next task is taken while this one is settled.
        this.#running -= 1;
        this.#wake?.();
      }
      await queue.settle(message, outcome);
    } catch (error) {
      // NATS lost while settling: unacknowledged, the task is delivered again after the ack wait.
      log.warn({ err: error, service, deliveries }, 'could not settle a task on NATS; it will be delivered again');
    }
  }

  /** Tasks waiting for a worker on any node, not yet delivered: one request to the server. */
  async #readBacklog(consumer: Consumer): Promise<void> {
    if (Date.now() - this.#backlogReadAt < BACKLOG_EVERY_MS) return;
    this.#backlogReadAt = Date.now();
    this.#backlog = (await consumer.info()).num_pending;
  }

  /** Until a task ends, stop is asked, or IDLE_WAIT_MS. */
  async #pause(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, IDLE_WAIT_MS);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }
}
