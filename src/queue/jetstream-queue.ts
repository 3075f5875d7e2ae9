// Tasks on NATS JetStream, when the nodes of an app share a NATS. One work-queue stream per
// app holds every service's waiting tasks, a subject per service (nats/subjects.ts), at most
// `maxQueue` each (JetStream refuses one more: TaskQueueFullError); one durable pull consumer
// per service is shared by the task pools of every node (jetstream-feeder.ts), so a task
// waits for the first free worker anywhere, and one not acknowledged within the ack wait
// (its node died) is delivered again. Jobs live in a key-value bucket every node reads.
//
// This class is both ends of the wire: what a submitter does (run, enqueue, job) and what a
// feeder does with a finished task (settle, deadLetter), so how a task message and its
// answer are encoded has this one home. Inputs and outputs cross as JSON: nodes may run
// different Node.js versions during a roll, and an operator can read a dead task.

import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, JsMsg, StreamConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { findTask, type App } from '../app/app.ts';
import {
  NatsUnavailableError,
  ShuttingDownError,
  TaskFailedError,
  TaskNotFoundError,
  TaskQueueFullError,
  TaskWorkerLostError,
} from '../errors.ts';
import { natsClient, type NatsConnection } from '../nats/connection.ts';
import { isNotFound, isSubjectFull, jetstreamClient, kvClient } from '../nats/jetstream.ts';
import { deadTaskSubject, resourceName, taskConsumerName, taskSubject } from '../nats/subjects.ts';
import { fromWire, toWire, type WireError } from '../shared/error-wire.ts';
import { reasonOf } from '../shared/server-errors.ts';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';
import type { Job, RunOptions, TaskQueue } from './types.ts';
import type { TraceCarrier } from '../observability/tracing.ts';
import { traceHeaders, traceOfHeaders } from '../nats/trace-headers.ts';

export interface JetStreamQueueOptions {
  app: App;
  /** Started and stopped by whoever made it (the supervisor). */
  nats: NatsConnection;
  log: Logger;
  /** Tasks of one service that may wait or run, on every node together. */
  maxQueue: number;
  /** A delivery not acknowledged (nor reported working) within this is delivered again. */
  ackWaitMs: number;
  /** Deliveries of a task whose worker dies before it is dead-lettered. */
  maxDeliveries: number;
  /** How long a job stays readable after its last change. @default 3600000 (1 h) */
  jobTtlMs?: number;
  /** Longest `run` waits for its result. @default 300000 (5 min), as a replica's IPC call */
  runTimeoutMs?: number;
}

/** A finished task, as its feeder hands it over. */
export type Outcome = { output: unknown } | { error: unknown };

const HEADER = {
  task: 'Cleave-Task',
  /** The inbox subject of a `run` waiting for the result. */
  reply: 'Cleave-Reply',
  /** A job's id and creation time (ISO): its record is rewritten whole when it finishes. */
  job: 'Cleave-Job',
  created: 'Cleave-Created',
  /** On a dead task: why. */
  reason: 'Cleave-Reason',
} as const;

/** Dead tasks are kept a week, at most this many per service, oldest dropped first. */
const DEAD_MAX_AGE_MS = 7 * 24 * 3600_000;
const DEAD_MAX_PER_SERVICE = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Answer = { o?: unknown } | { e: WireError };

interface Waiting {
  task: string;
  resolve(output: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

export class JetStreamQueue implements TaskQueue {
  readonly #options: JetStreamQueueOptions;
  readonly #stream: string;
  #js: JetStreamClient | undefined;
  #jobs: KV | undefined;
  /** This process's inbox for `run` results: one subscription, a token per waiting run. */
  #inbox: { prefix: string; subscription: Subscription } | undefined;
  readonly #waiting = new Map<string, Waiting>();
  #stopping = false;

  constructor(options: JetStreamQueueOptions) {
    this.#options = options;
    this.#stream = resourceName(options.app.name, 'tasks');
  }

  /**
   * Makes (or brings up to date) the app's streams, a consumer per service with tasks and the
   * jobs bucket, then listens for run results. Every node does so at start; it is idempotent.
   */
  async start(): Promise<void> {
    const { app, nats, maxQueue, ackWaitMs } = this.#options;
    const client = nats.client;
    const { jetstream, jetstreamManager, AckPolicy, DiscardPolicy, RetentionPolicy, StorageType } = jetstreamClient();
    try {
      const manager = await jetstreamManager(client);
      await ensureStream(manager, {
        name: this.#stream,
        subjects: [taskSubject(app.name)],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        discard: DiscardPolicy.New,
        discard_new_per_subject: true,
        max_msgs_per_subject: maxQueue,
        // A submit retried after a lost acknowledgement is stored once (by message id).
        duplicate_window: nanos(120_000),
      });
      await ensureStream(manager, {
        name: resourceName(app.name, 'dead_tasks'),
        subjects: [deadTaskSubject(app.name)],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: nanos(DEAD_MAX_AGE_MS),
        max_msgs_per_subject: DEAD_MAX_PER_SERVICE,
      });
      for (const service of this.#services()) {
        const consumer = {
          durable_name: taskConsumerName(service),
          filter_subject: taskSubject(app.name, service),
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(ackWaitMs),
          // Deliveries are counted by the feeder, which dead-letters a task itself: a node
          // that dies on the last one leaves nobody to, and the server would just stop.
          max_deliver: -1,
        };
        await manager.consumers.info(this.#stream, consumer.durable_name).then(
          () => manager.consumers.update(this.#stream, consumer.durable_name, consumer),
          (error: unknown) => {
            if (!isNotFound(error)) throw error;
            return manager.consumers.add(this.#stream, consumer);
          },
        );
      }
      this.#js = jetstream(client);
      this.#jobs = await new (kvClient().Kvm)(client).create(resourceName(app.name, 'jobs'), {
        history: 1,
        ttl: this.#options.jobTtlMs ?? 3600_000,
        storage: StorageType.File,
      });
    } catch (error) {
      throw new NatsUnavailableError(`cannot set up the task queue on NATS JetStream: ${reasonOf(error)}`, {
        cause: error,
      });
    }
    const prefix = natsClient().createInbox();
    const subscription = client.subscribe(`${prefix}.*`, {
      callback: (error, message) => {
        if (error === null) this.#answered(message.subject.slice(prefix.length + 1), message.data);
      },
    });
    this.#inbox = { prefix, subscription };
  }

  /** Fails what still waits for a result: this process will not be there to hear it. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#inbox?.subscription.unsubscribe();
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new ShuttingDownError(`stopping before task ${waiting.task} answered`));
      this.#waiting.delete(id);
    }
  }

  async run(task: string, input: unknown, options: RunOptions = {}): Promise<unknown> {
    const service = this.#admit(task);
    const id = randomUUID();
    const { prefix } = this.#inbox ?? notStarted();
    const timeoutMs = this.#options.runTimeoutMs ?? 300_000;
    const result = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new TaskFailedError(task, `no result within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiting.set(id, { task, resolve, reject, timer });
    });
    const abort = (): void => this.#answeredWith(id, options.signal?.reason);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await this.#publish(service, task, input, id, { [HEADER.reply]: `${prefix}.${id}` }, options.trace);
    } catch (error) {
      this.#answeredWith(id, error);
    }
    return result.finally(() => options.signal?.removeEventListener('abort', abort));
  }

  async enqueue(task: string, input: unknown): Promise<Job> {
    const service = this.#admit(task);
    const job: Job = { id: randomUUID(), task, state: 'pending', createdAt: new Date().toISOString() };
    // Written first, so `job(id)` finds it the moment it is returned.
    await this.#writeJob(job);
    try {
      await this.#publish(service, task, input, job.id, { [HEADER.job]: job.id, [HEADER.created]: job.createdAt });
    } catch (error) {
      await this.#bucket()
        .delete(job.id)
        .catch(() => {});
      throw error;
    }
    return job;
  }

  async job(id: string): Promise<Job | undefined> {
    this.#refuseWhileDisconnected(`cannot read job ${id}`);
    let entry;
    try {
      entry = await this.#bucket().get(id);
    } catch (error) {
      throw new NatsUnavailableError(`cannot read job ${id} from NATS: ${reasonOf(error)}`, { cause: error });
    }
    // A deleted or purged entry reads as an empty one.
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return JSON.parse(entry.string()) as Job;
  }

  // ---- what a feeder does with a task it took ----

  /** The durable consumer of `service`'s tasks, shared by every node's feeder. */
  consumer(service: string): Promise<import('@nats-io/jetstream').Consumer> {
    return this.#jetstream().consumers.get(this.#stream, taskConsumerName(service));
  }

  /** The task a delivery carries, and the trace context of the span that sent it. */
  taskOf(message: JsMsg): { task: string; input: unknown; trace: TraceCarrier | undefined } {
    const text = decoder.decode(message.data);
    return {
      task: message.headers?.get(HEADER.task) ?? '',
      input: text === '' ? undefined : parseUntrustedJson(text),
      trace: traceOfHeaders(message),
    };
  }

  /**
   * Answers the task's `run` (if one waits) and finishes its job (if it is one), then
   * acknowledges it. A job not written (NATS lost) leaves it unacknowledged: delivered again.
   */
  async settle(message: JsMsg, outcome: Outcome): Promise<void> {
    const { task } = this.taskOf(message);
    let answer: Answer;
    let data: Uint8Array;
    try {
      answer = 'error' in outcome ? { e: toWire(outcome.error) } : { o: outcome.output };
      data = encoder.encode(JSON.stringify(answer));
    } catch {
      // A BigInt or a cycle: JSON can't carry it.
      const unsendable = new TaskFailedError(task, 'its output cannot cross to the caller (not JSON)');
      answer = { e: toWire(unsendable) };
      data = encoder.encode(JSON.stringify(answer));
    }
    const reply = message.headers?.get(HEADER.reply);
    if (reply) this.#options.nats.client.publish(reply, data);
    const jobId = message.headers?.get(HEADER.job);
    if (jobId) {
      await this.#writeJob({
        id: jobId,
        task,
        createdAt: message.headers?.get(HEADER.created) || new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        ...('e' in answer ? { state: 'failed', error: answer.e } : { state: 'succeeded', output: answer.o }),
      });
    }
    // Not confirmed (a round trip per task): an acknowledgement lost on the way means the
    // task is delivered again, which at-least-once allows.
    message.ack();
  }

  /**
   * Moves a task whose worker died on every delivery to the service's dead-task subject
   * (kept a week, for the operator), and fails its run and job with TaskWorkerLostError.
   */
  async deadLetter(message: JsMsg, service: string, reason: string): Promise<void> {
    const { task } = this.taskOf(message);
    const headers = natsClient().headers();
    for (const [key, values] of message.headers ?? []) for (const value of values) headers.append(key, value);
    headers.set(HEADER.reason, reason);
    await this.#jetstream().publish(deadTaskSubject(this.#options.app.name, service), message.data, { headers });
    this.#options.log.error({ task, deliveries: message.info.deliveryCount, reason }, 'task dead-lettered');
    await this.settle(message, { error: new TaskWorkerLostError(task, reason) });
  }

  #services(): string[] {
    return this.#options.app.services.filter((service) => service.tasks.size > 0).map((service) => service.name);
  }

  /** The service that runs `task`; refuses at once what would never run. */
  #admit(task: string): string {
    if (this.#stopping) throw new ShuttingDownError(`stopping; task ${task} was not run`);
    const definition = findTask(this.#options.app, task);
    if (!definition) throw new TaskNotFoundError(`no task "${task}" in app ${this.#options.app.name}`);
    return definition.service;
  }

  async #publish(
    service: string,
    task: string,
    input: unknown,
    id: string,
    extra: Record<string, string>,
    trace?: TraceCarrier,
  ): Promise<void> {
    this.#refuseWhileDisconnected(`cannot queue task ${task}`);
    const headers = natsClient().headers();
    headers.set(HEADER.task, task);
    for (const [key, value] of Object.entries(extra)) headers.set(key, value);
    traceHeaders(trace, headers);
    // A value JSON can't carry throws here, before anything is sent.
    const data = input === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(input));
    try {
      await this.#jetstream().publish(taskSubject(this.#options.app.name, service), data, { headers, msgID: id });
    } catch (error) {
      if (isSubjectFull(error)) {
        throw new TaskQueueFullError(
          `the ${service} task queue is full (${this.#options.maxQueue} waiting or running on all nodes); ${task} was not run`,
          { cause: error },
        );
      }
      throw new NatsUnavailableError(`cannot queue task ${task} on NATS: ${reasonOf(error)}`, { cause: error });
    }
  }

  async #writeJob(job: Job): Promise<void> {
    this.#refuseWhileDisconnected(`cannot write job ${job.id}`);
    try {
      await this.#bucket().put(job.id, JSON.stringify(job));
    } catch (error) {
      throw new NatsUnavailableError(`cannot write job ${job.id} to NATS: ${reasonOf(error)}`, { cause: error });
    }
  }

  /** Without a connection, a JetStream request would wait its whole timeout for nothing. */
  #refuseWhileDisconnected(what: string): void {
    if (!this.#options.nats.connected) throw new NatsUnavailableError(`${what}: NATS is unreachable; retry shortly`);
  }

  #answered(id: string, data: Uint8Array): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return; // answered twice (delivered again), or given up on
    let answer: Answer;
    try {
      answer = parseUntrustedJson(decoder.decode(data)) as Answer;
    } catch (error) {
      this.#answeredWith(id, new TaskFailedError(waiting.task, 'its result could not be read', { cause: error }));
      return;
    }
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    if ('e' in answer) waiting.reject(fromWire(answer.e));
    else waiting.resolve(answer.o);
  }

  /** Ends a waiting run with `error`. */
  #answeredWith(id: string, error: unknown): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    waiting.reject(error);
  }

  #jetstream(): JetStreamClient {
    return this.#js ?? notStarted();
  }

  #bucket(): KV {
    return this.#jobs ?? notStarted();
  }
}

/** Creates the stream, or brings an existing one to `config` (a changed queue bound, say). */
async function ensureStream(
  manager: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await manager.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await manager.streams.add(config);
    return;
  }
  await manager.streams.update(config.name, config);
}

function nanos(ms: number): number {
  return ms * 1_000_000;
}

function notStarted(): never {
  throw new Error('JetStreamQueue.start() was not called');
}
