// The ctx of one action run: the callee service's context, plus the call chain's request id
// and deadline, which the calls it makes inherit. Its log lines carry the request id.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActionContext, CallOptions } from '../app/action.ts';
import type { ServiceContext } from '../app/context.ts';
import type { TaskRef } from '../app/task.ts';
import type { EventHandler } from '../bus/types.ts';
import type { Job } from '../queue/types.ts';
import type { Collection } from '../store/collection.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

/** Who a call is for and until when: travels with every call of a chain. */
export interface CallMeta {
  requestId: string;
  /** ms since the epoch; Infinity when nothing upstream set one. */
  deadline: number;
  /** The calling span's, when the call leaves this process traced. */
  trace?: TraceCarrier | undefined;
}

/** How a context makes calls: the process's ActionCaller with the chain's meta. */
export type CallWithMeta = (
  action: unknown,
  input: unknown,
  options: CallOptions | undefined,
  meta: CallMeta,
) => Promise<unknown>;

export function freshMeta(): CallMeta {
  return { requestId: randomUUID(), deadline: Infinity };
}

export class CallContext implements ActionContext {
  readonly requestId: string;
  readonly deadline: number;
  /** How long the call was given when it started: its deadline, in the error that ends it. */
  readonly timeoutMs: number;
  readonly #base: ServiceContext;
  readonly #call: CallWithMeta;
  #abort: AbortController | undefined;
  #log: Logger | undefined;

  constructor(base: ServiceContext, requestId: string, deadline: number, timeoutMs: number, call: CallWithMeta) {
    this.#base = base;
    this.#call = call;
    this.requestId = requestId;
    this.deadline = deadline;
    this.timeoutMs = timeoutMs;
  }

  /** Aborts ctx.signal: the caller has stopped waiting. */
  cancel(reason: unknown): void {
    this.#abort ??= new AbortController();
    this.#abort.abort(reason);
  }

  // Made on first use: most actions never look at them, and both cost per call.
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  get log(): Logger {
    this.#log ??= this.#base.log.child({ requestId: this.requestId });
    return this.#log;
  }

  get service(): string {
    return this.#base.service;
  }

  call(action: unknown, input: unknown, options?: CallOptions): Promise<never> {
    return this.#call(action, input, options, this) as Promise<never>;
  }

  emit(topic: string, payload: unknown): Promise<void> {
    return this.#base.emit(topic, payload);
  }
  on<T = unknown>(topic: string, handler: EventHandler<T>): () => void {
    return this.#base.on(topic, handler);
  }
  off(topic: string, handler: EventHandler): void {
    this.#base.off(topic, handler);
  }
  run<I, O>(task: TaskRef<I, O>, input: I): Promise<O> {
    return this.#base.run(task, input);
  }
  enqueue<I, O>(task: TaskRef<I, O>, input: I): Promise<Job<O>> {
    return this.#base.enqueue(task, input);
  }
  job<O = unknown>(id: string): Promise<Job<O> | undefined> {
    return this.#base.job<O>(id);
  }
  store<T = unknown>(collection: string): Collection<T> {
    return this.#base.store<T>(collection);
  }
  invalidate(...targets: string[]): Promise<void> {
    return this.#base.invalidate(...targets);
  }
}
