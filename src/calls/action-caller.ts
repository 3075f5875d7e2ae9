// ctx.call(): finds the action, works out the call's deadline (the sooner of the caller's
// option, the action's own timeout and what is left of the calling request's), and runs it
// here when its service runs in this process — a function call — or sends it to a replica of
// the owning pool when split (RemoteActions).

import type { Logger } from 'pino';
import type { ActionDefinition, CallOptions } from '../app/action.ts';
import type { App } from '../app/app.ts';
import type { ServiceContext } from '../app/context.ts';
import { ActionNotFoundError, CallTimeoutError, CleaveError, HttpError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { CallContext, type CallMeta } from './call-context.ts';
import { runAction } from './run-action.ts';
import { carrierOf, SpanKind, spanAround, startSpan, tracingOn } from '../observability/tracing.ts';

/** Sends a call to a replica of the action's pool (split mode). */
export interface RemoteCaller {
  call(definition: ActionDefinition, input: unknown, meta: CallMeta, timeoutMs: number): Promise<unknown>;
}

export interface ActionCallerOptions {
  /** The whole app: a call may name any service's action. */
  app: App;
  /** The services running in this process: their actions are function calls. */
  local: ReadonlySet<string>;
  contextFor(service: string): ServiceContext;
  log: Logger;
  /** Split: where the other services' actions are. */
  remote?: RemoteCaller;
  /** Counts and times each call by action and outcome; none when absent. */
  metrics?: Metrics;
}

export class ActionCaller {
  readonly #options: ActionCallerOptions;
  readonly #actions = new Map<string, ActionDefinition>();
  readonly #call = (action: unknown, input: unknown, options: CallOptions | undefined, meta: CallMeta) =>
    this.call(action, input, options, meta);

  constructor(options: ActionCallerOptions) {
    this.#options = options;
    for (const service of options.app.services) {
      for (const action of service.actions.values()) this.#actions.set(action.id, action);
    }
  }

  /** The action a name or definition stands for; throws ActionNotFoundError for an unknown one. */
  resolve(action: unknown): ActionDefinition {
    const definition = this.#find(action);
    if (!definition) throw this.#notFound(action);
    return definition;
  }

  #find(action: unknown): ActionDefinition | undefined {
    const id = idOf(action);
    return typeof id === 'string' ? this.#actions.get(id) : undefined;
  }

  #notFound(action: unknown): ActionNotFoundError {
    return new ActionNotFoundError(`no service declares the action ${String(idOf(action))}`);
  }

  call(action: unknown, input: unknown, options: CallOptions | undefined, meta: CallMeta): Promise<unknown> {
    const { metrics } = this.#options;
    const traced = tracingOn();
    if (metrics === undefined && !traced) return this.#dispatch(action, input, options, meta);
    const started = performance.now();
    const definition = this.#find(action);
    // Named only when the app declares it: a name from a request must not make series.
    const id = definition?.id ?? 'unknown';
    // The caller's side of the call: a client span when it leaves the process.
    const span = traced
      ? startSpan(
          `call ${id}`,
          definition !== undefined && this.#options.local.has(definition.service) ? SpanKind.INTERNAL : SpanKind.CLIENT,
          { 'cleave.action': id, 'cleave.request_id': meta.requestId },
        )
      : undefined;
    const called =
      span === undefined
        ? this.#dispatch(action, input, options, meta)
        : spanAround(span, () => this.#dispatch(action, input, options, meta));
    if (metrics === undefined) return called;
    called.then(
      () => metrics.callEnded(id, 'ok', (performance.now() - started) / 1000),
      (error: unknown) => metrics.callEnded(id, outcomeOf(error), (performance.now() - started) / 1000),
    );
    return called;
  }

  #dispatch(action: unknown, input: unknown, options: CallOptions | undefined, meta: CallMeta): Promise<unknown> {
    const definition = this.#find(action);
    if (!definition) return Promise.reject(this.#notFound(action));
    const asked = options?.timeoutMs;
    if (asked !== undefined && !(asked > 0)) {
      return Promise.reject(new TypeError(`ctx.call(${definition.id}): timeoutMs must be a number of ms above 0`));
    }
    const timeoutMs = Math.min(asked ?? Infinity, definition.timeoutMs);
    const now = Date.now();
    const deadline = Math.min(now + timeoutMs, meta.deadline);
    if (deadline <= now) return Promise.reject(new CallTimeoutError(definition.id, 0));
    if (this.#options.local.has(definition.service)) {
      return this.runHere(definition, input, meta.requestId, deadline, deadline - now);
    }
    const remote = this.#options.remote;
    if (!remote) return Promise.reject(new ActionNotFoundError(`${definition.service} does not run in this process`));
    return remote.call(definition, input, { requestId: meta.requestId, deadline, trace: carrierOf() }, deadline - now);
  }

  /**
   * Runs an action of a service of this process (an in-process call, or a call that came in
   * from a replica). `deadline` is already the sooner of the caller's and the action's own.
   */
  runHere(
    definition: ActionDefinition,
    input: unknown,
    requestId: string,
    deadline: number,
    timeoutMs: number,
  ): Promise<unknown> {
    const base = this.#options.contextFor(definition.service);
    const context = new CallContext(base, requestId, deadline, timeoutMs, this.#call);
    return runAction(definition, input, context, this.#options.log);
  }
}

/** A definition's id, or the id a call names. */
function idOf(action: unknown): unknown {
  return typeof action === 'string' ? action : (action as { id?: unknown } | null)?.id;
}

/** A failed call's outcome label: its error's code (an app's HttpError: its reason), else `error`. */
function outcomeOf(error: unknown): string {
  if (error instanceof HttpError) return error.reason;
  return error instanceof CleaveError ? error.code : 'error';
}
