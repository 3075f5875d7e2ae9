// An action is a function a service offers the others: `auth.action('profile', { input,
// output }, handler)`, called as `ctx.call(profile, { id })` or `ctx.call('auth.profile', …)`.
// In one process the call is a function call; split, it goes to a replica of the owning
// pool over the internal transport. Input and output cross process boundaries as JSON, so
// keep them JSON values (a Date arrives as a string when split) and don't mutate an input:
// together, the callee sees the caller's very object unless its schema made a copy.

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ServiceContext } from './context.ts';
import type { Infer } from './route.ts';

export interface ActionOptions<In extends StandardSchemaV1 | undefined, Out extends StandardSchemaV1 | undefined> {
  /** Validates the input, at the callee; a failure is a ValidationError for the caller. */
  input?: In;
  /** Validates the output before it is returned: the caller's types hold at run time too. */
  output?: Out;
  /**
   * Safe to run twice: a call whose replica died mid-way is retried on another replica.
   * Otherwise only a call that never reached a replica is retried. @default false
   */
  idempotent?: boolean;
  /** The longest a call may take, unless the caller's own deadline is sooner. @default 10000 */
  timeoutMs?: number;
}

/** What an action's handler sees: its service's context, and the call's identity and deadline. */
export interface ActionContext extends ServiceContext {
  /** The id of the request (or job) the call chain started from: it shows in every log line. */
  readonly requestId: string;
  /** When the call must be answered by (ms since the epoch); calls it makes inherit it. */
  readonly deadline: number;
  /** Aborted at the deadline: pass it on to fetch, timers and the like. */
  readonly signal: AbortSignal;
}

export type ActionHandler<I, O> = (input: I, ctx: ActionContext) => O | Promise<O>;

export interface ActionDefinition<I = unknown, O = unknown> {
  /** `service.name`, the id callers may pass to ctx.call(). */
  readonly id: string;
  readonly service: string;
  readonly name: string;
  readonly input: StandardSchemaV1 | undefined;
  readonly output: StandardSchemaV1 | undefined;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly handler: ActionHandler<I, O>;
}

/** The app's actions by id, for typed calls by name: filled in by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Actions {}

export type ActionInput<A> = A extends ActionDefinition<infer I, infer _O> ? I : never;
export type ActionOutput<A> = A extends ActionDefinition<infer _I, infer O> ? O : never;

/** What a handler's input and output are, from the schemas when given. */
export type ActionInputOf<In> = Infer<In, unknown>;
export type ActionOutputOf<Out, Returned> = Out extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<Out> : Returned;

export interface CallOptions {
  /** Sooner than the action's own timeout; never later than the calling request's deadline. */
  timeoutMs?: number;
}

export const DEFAULT_ACTION_TIMEOUT_MS = 10_000;
