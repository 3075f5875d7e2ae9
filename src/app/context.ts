// What a handler sees. One ServiceContext per service (cron jobs, listeners,
// sockets) and one RequestContext per HTTP request, built on top of it.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { EventHandler } from '../bus/types.ts';
import type { Collection } from '../store/collection.ts';
import type { Job } from '../queue/types.ts';
import type { ActionDefinition, ActionInput, ActionOutput, Actions, CallOptions } from './action.ts';
import type { TaskRef } from './task.ts';

/** The authenticated principal, from a session cookie or a bearer token. */
export interface User {
  id: string;
  name?: string;
  [claim: string]: unknown;
}

export interface SignInOptions {
  /** Token and cookie lifetime in seconds. @default 604800 (7 days) */
  maxAgeSeconds?: number;
}

export interface ServiceContext {
  /** The service this code belongs to. */
  readonly service: string;
  readonly log: Logger;
  /** Publishes an event to every listener in the app. */
  emit(topic: string, payload: unknown): Promise<void>;
  /** Adds a listener at run time; returns the function that removes it. */
  on<T = unknown>(topic: string, handler: EventHandler<T>): () => void;
  off(topic: string, handler: EventHandler): void;
  /** Runs a task in the worker pool and resolves with its output. */
  run<I, O>(task: TaskRef<I, O>, input: I): Promise<O>;
  /**
   * Queues a task and resolves at once with its job (id, state); read it later with job().
   * Rejects with TaskQueueFullError (503 + Retry-After when it escapes a route) past the bound.
   */
  enqueue<I, O>(task: TaskRef<I, O>, input: I): Promise<Job<O>>;
  /** A job's status and, once finished, its output or error; undefined when unknown or expired. */
  job<O = unknown>(id: string): Promise<Job<O> | undefined>;
  /** A collection owned by this service. */
  store<T = unknown>(collection: string): Collection<T>;
  /**
   * Drops cached responses at these paths (any query), or under a prefix ending in `*`:
   * `ctx.invalidate('/api/posts', '/api/users/*')`. From a route handler, that route's
   * response (or error) reaches the client after the drop; from a listener, a cron job or an
   * action, the drop follows within moments (split, it is an event through the supervisor).
   */
  invalidate(...targets: string[]): Promise<void>;
  /**
   * Calls another service's action and resolves with its output: a function call when both
   * run in one process, a call to a replica of the owning pool when split. Typed from the
   * declaration: `ctx.call(profile, { id })`, or by name once the app lists its actions in
   * `Actions` (declaration merging). Fails with the callee's own error class, or
   * CallTimeoutError at the deadline: the sooner of `timeoutMs`, the action's timeout and
   * what is left of the request this call serves.
   */
  call<A extends ActionDefinition<never, unknown>>(
    action: A,
    input: ActionInput<A>,
    options?: CallOptions,
  ): Promise<ActionOutput<A>>;
  call<N extends Extract<keyof Actions, string>>(
    action: N,
    input: ActionInput<Actions[N]>,
    options?: CallOptions,
  ): Promise<ActionOutput<Actions[N]>>;
}

export interface RequestContext<
  Body = unknown,
  Query = Record<string, string | undefined>,
  Params = Record<string, string | undefined>,
> extends ServiceContext {
  readonly req: IncomingMessage;
  readonly method: string;
  /** Normalised path, without the query string. */
  readonly path: string;
  readonly params: Params;
  readonly query: Query;
  readonly body: Body;
  readonly headers: IncomingHttpHeaders;
  readonly requestId: string;
  /** Set when the request carries a valid session cookie or bearer token. */
  readonly user: User | undefined;
  /** Aborted when the client goes away before the response is sent. */
  readonly signal: AbortSignal;
  cookie(name: string): string | undefined;
  setHeader(name: string, value: string | string[]): void;
  /** Issues a token for `user`, sets the session cookie and returns the token. */
  signIn(user: User, options?: SignInOptions): Promise<string>;
  /** Clears the session cookie. */
  signOut(): void;
}
