// A service: the unit that runs together in dev and becomes its own process
// pool when split. Defining one is pure data collection; nothing runs until
// the runtime starts the app.

import type { StandardSchemaV1 } from '@standard-schema/spec';
import { AppDefinitionError } from '../errors.ts';
import type { EventHandler } from '../bus/types.ts';
import {
  DEFAULT_ACTION_TIMEOUT_MS,
  type ActionContext,
  type ActionDefinition,
  type ActionInputOf,
  type ActionOptions,
  type ActionOutputOf,
} from './action.ts';
import type { ServiceContext } from './context.ts';
import type {
  HttpMethod,
  Infer,
  ParamsOf,
  RouteCacheOptions,
  RouteDefinition,
  RouteHandler,
  RouteOptions,
} from './route.ts';
import type { SocketDefinition, SocketHandlers, SocketOptions } from './socket.ts';
import type { TaskDefinition, TaskHandler } from './task.ts';

export interface StaticOptions {
  /** Folder to serve; a file: URL (`new URL('./public', import.meta.url)`) or a path. */
  dir: string | URL;
  /** Served for a request to a folder. @default 'index.html' */
  index?: string | false;
  /** Cache-Control max-age in seconds. @default 0 */
  maxAgeSeconds?: number;
}

export interface StaticDefinition {
  readonly service: string;
  /** URL prefix, e.g. '/' or '/assets'. */
  readonly prefix: string;
  readonly dir: string;
  readonly index: string | false;
  readonly maxAgeSeconds: number;
}

export interface ListenerDefinition {
  readonly service: string;
  readonly topic: string;
  readonly handler: (payload: unknown, ctx: ServiceContext) => void | Promise<void>;
}

export interface CronDefinition {
  readonly service: string;
  readonly name: string;
  /** Six fields with seconds, or five without: '*\/10 * * * * *'. */
  readonly schedule: string;
  readonly handler: (ctx: ServiceContext) => void | Promise<void>;
  readonly timezone: string | undefined;
}

export interface CronOptions {
  /** IANA zone the schedule is read in. @default the process's zone */
  timezone?: string;
}

/** What one replica of a pool is aimed to carry; the autoscaler adds replicas past it. */
export interface ScaleTargets {
  /**
   * Requests in flight per replica (time-weighted mean). High when handlers wait on slow I/O
   * or queue behind a busy loop; Knative's concurrency target has the same default. @default 100
   */
  inFlight: number;
  /** Event-loop utilisation per replica, 0–1 (perf_hooks: the share of time the loop was busy). @default 0.7 */
  eventLoop: number;
}

export interface ScalePolicy {
  /** Replicas a split app starts with and never goes below. @default 1 */
  min: number;
  /** Most replicas autoscaling may run; also bounded by the machine's budget. @default Infinity (the budget) */
  max: number;
  target: ScaleTargets;
  /**
   * The pool shrinks only after wanting fewer replicas for this long (the stabilisation
   * window), so a lull between bursts does not cost a restart. @default 30000
   */
  downAfterMs: number;
}

export interface ServiceOptions {
  scale?: Partial<Omit<ScalePolicy, 'target'>> & { target?: Partial<ScaleTargets> };
  /**
   * How the gateway spreads this service's requests over its replicas when split:
   * `least-in-flight` suits uneven request costs; `round-robin` is plain rotation;
   * `consistent-hash` keeps each client address on one replica (sticky: per-replica state
   * such as WebSocket rooms or caches), moving only the clients of a replica that joins or
   * leaves; `cookie-affinity` does the same with a cookie, for clients sharing one address.
   * @default 'least-in-flight'
   */
  balancer?: 'least-in-flight' | 'round-robin' | 'consistent-hash' | 'cookie-affinity';
}

function scalePolicy(service: string, options: ServiceOptions['scale'] = {}): ScalePolicy {
  const min = options.min ?? 1;
  const max = options.max ?? Infinity;
  if (!Number.isInteger(min) || min < 1 || !(max === Infinity || Number.isInteger(max)) || max < min) {
    throw new AppDefinitionError(`service ${service}: scale needs whole numbers 1 <= min <= max, got ${min}..${max}`);
  }
  const target = { inFlight: options.target?.inFlight ?? 100, eventLoop: options.target?.eventLoop ?? 0.7 };
  if (!(target.inFlight > 0) || !(target.eventLoop > 0 && target.eventLoop <= 1)) {
    throw new AppDefinitionError(`service ${service}: scale targets need inFlight > 0 and 0 < eventLoop <= 1`);
  }
  const downAfterMs = options.downAfterMs ?? 30_000;
  if (!(downAfterMs >= 0)) throw new AppDefinitionError(`service ${service}: scale.downAfterMs must be >= 0`);
  return { min, max, target, downAfterMs };
}

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const TOPIC = /^[A-Za-z0-9_.:-]{1,200}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;

type Schema = StandardSchemaV1 | undefined;

export class Service {
  readonly name: string;
  readonly routes: RouteDefinition[] = [];
  readonly statics: StaticDefinition[] = [];
  readonly sockets: SocketDefinition[] = [];
  readonly listeners: ListenerDefinition[] = [];
  readonly crons: CronDefinition[] = [];
  readonly tasks = new Map<string, TaskDefinition>();
  readonly actions = new Map<string, ActionDefinition>();

  /** How many processes this service runs as when the app is split. */
  readonly scale: ScalePolicy;
  readonly balancer: 'least-in-flight' | 'round-robin' | 'consistent-hash' | 'cookie-affinity';

  constructor(name: string, options: ServiceOptions = {}) {
    if (!SERVICE_NAME.test(name)) {
      throw new AppDefinitionError(`service name "${name}" must match ${SERVICE_NAME} (lower case, digits, dashes)`);
    }
    this.scale = scalePolicy(name, options.scale);
    this.balancer = options.balancer ?? 'least-in-flight';
    if (!['least-in-flight', 'round-robin', 'consistent-hash', 'cookie-affinity'].includes(this.balancer)) {
      throw new AppDefinitionError(
        `service ${name}: balancer must be least-in-flight, round-robin, consistent-hash or cookie-affinity`,
      );
    }
    this.name = name;
  }

  route<Path extends string, B extends Schema = undefined, Q extends Schema = undefined, P extends Schema = undefined>(
    method: HttpMethod,
    path: Path,
    options: RouteOptions<B, Q, P>,
    handler: Handler<Path, B, Q, P>,
  ): this {
    validatePath(path, `${method} ${path}`);
    if (options.cache !== undefined) validateCache(options.cache, method, `${method} ${path}`);
    this.routes.push({ service: this.name, method, path, options, handler: handler as RouteDefinition['handler'] });
    return this;
  }

  get<Path extends string, Q extends Schema = undefined, P extends Schema = undefined>(
    path: Path,
    ...args: RouteArgs<Path, undefined, Q, P>
  ): this {
    return this.route('GET', path, ...splitArgs(args));
  }

  post<Path extends string, B extends Schema = undefined, Q extends Schema = undefined, P extends Schema = undefined>(
    path: Path,
    ...args: RouteArgs<Path, B, Q, P>
  ): this {
    return this.route('POST', path, ...splitArgs(args));
  }

  put<Path extends string, B extends Schema = undefined, Q extends Schema = undefined, P extends Schema = undefined>(
    path: Path,
    ...args: RouteArgs<Path, B, Q, P>
  ): this {
    return this.route('PUT', path, ...splitArgs(args));
  }

  patch<Path extends string, B extends Schema = undefined, Q extends Schema = undefined, P extends Schema = undefined>(
    path: Path,
    ...args: RouteArgs<Path, B, Q, P>
  ): this {
    return this.route('PATCH', path, ...splitArgs(args));
  }

  delete<Path extends string, Q extends Schema = undefined, P extends Schema = undefined>(
    path: Path,
    ...args: RouteArgs<Path, undefined, Q, P>
  ): this {
    return this.route('DELETE', path, ...splitArgs(args));
  }

  /** Serves files under `options.dir` at `prefix`, with ETag, Last-Modified and 304. */
  static(prefix: string, options: StaticOptions): this {
    validatePath(prefix, `static ${prefix}`);
    const dir = options.dir instanceof URL ? decodeURIComponent(options.dir.pathname) : options.dir;
    this.statics.push({
      service: this.name,
      prefix: prefix.replace(/\/+$/, '') || '/',
      dir,
      index: options.index ?? 'index.html',
      maxAgeSeconds: options.maxAgeSeconds ?? 0,
    });
    return this;
  }

  socket(path: string, handlers: SocketHandlers, options: SocketOptions = {}): this {
    validatePath(path, `socket ${path}`);
    this.sockets.push({ service: this.name, path, handlers, options });
    return this;
  }

  /** Listens to a bus topic for the life of the app. */
  on<T = unknown>(topic: string, handler: (payload: T, ctx: ServiceContext) => void | Promise<void>): this {
    if (!TOPIC.test(topic)) throw new AppDefinitionError(`topic "${topic}" must match ${TOPIC}`);
    this.listeners.push({ service: this.name, topic, handler: handler as ListenerDefinition['handler'] });
    return this;
  }

  /** Runs `handler` on `schedule`; a run still going when the next tick comes skips that tick. */
  cron(
    name: string,
    schedule: string,
    handler: (ctx: ServiceContext) => void | Promise<void>,
    options: CronOptions = {},
  ): this {
    if (!NAME.test(name)) throw new AppDefinitionError(`cron name "${name}" must match ${NAME}`);
    if (this.crons.some((job) => job.name === name)) {
      throw new AppDefinitionError(`cron "${name}" is declared twice in service ${this.name}`);
    }
    this.crons.push({ service: this.name, name, schedule, handler, timezone: options.timezone });
    return this;
  }

  /** Declares a CPU-heavy task; callers run it with ctx.run(definition or 'service.name', input). */
  /**
   * Offers `handler` to the other services as `<service>.<name>`, called with ctx.call():
   * a function call when together, a call to a replica of this pool when split.
   */
  action<In extends Schema = undefined, Out extends Schema = undefined, Returned = unknown>(
    name: string,
    options: ActionOptions<In, Out>,
    handler: (input: ActionInputOf<In>, ctx: ActionContext) => Returned | Promise<Returned>,
  ): ActionDefinition<ActionInputOf<In>, Awaited<ActionOutputOf<Out, Returned>>> {
    if (!NAME.test(name)) throw new AppDefinitionError(`action name "${name}" must match ${NAME}`);
    if (this.actions.has(name)) {
      throw new AppDefinitionError(`action "${name}" is declared twice in service ${this.name}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;
    // setTimeout's ceiling, about 24.8 days: more is a mistake, not a timeout.
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2 ** 31 - 1) {
      throw new AppDefinitionError(`action ${this.name}.${name}: timeoutMs is a whole number of ms, 1 to 2^31-1`);
    }
    const definition = {
      id: `${this.name}.${name}`,
      service: this.name,
      name,
      input: options.input,
      output: options.output,
      idempotent: options.idempotent ?? false,
      timeoutMs,
      handler,
    };
    this.actions.set(name, definition as ActionDefinition);
    return definition as unknown as ActionDefinition<ActionInputOf<In>, Awaited<ActionOutputOf<Out, Returned>>>;
  }

  task<I, O>(name: string, handler: TaskHandler<I, O>): TaskDefinition<I, O> {
    if (!NAME.test(name)) throw new AppDefinitionError(`task name "${name}" must match ${NAME}`);
    if (this.tasks.has(name)) throw new AppDefinitionError(`task "${name}" is declared twice in service ${this.name}`);
    const definition: TaskDefinition<I, O> = { id: `${this.name}.${name}`, service: this.name, name, handler };
    this.tasks.set(name, definition as TaskDefinition);
    return definition;
  }
}

type Handler<Path extends string, B extends Schema, Q extends Schema, P extends Schema> = RouteHandler<
  Infer<B, unknown>,
  Infer<Q, Record<string, string | undefined>>,
  Infer<P, ParamsOf<Path>>
>;

type RouteArgs<Path extends string, B extends Schema, Q extends Schema, P extends Schema> =
  [handler: Handler<Path, B, Q, P>] | [options: RouteOptions<B, Q, P>, handler: Handler<Path, B, Q, P>];

function splitArgs<Path extends string, B extends Schema, Q extends Schema, P extends Schema>(
  args: RouteArgs<Path, B, Q, P>,
): [RouteOptions<B, Q, P>, Handler<Path, B, Q, P>] {
  return args.length === 1 ? [{}, args[0]] : [args[0], args[1]];
}

function validatePath(path: string, what: string): void {
  if (!path.startsWith('/') || /[\s?#\\]/.test(path) || path.includes('//')) {
    throw new AppDefinitionError(`${what}: a path starts with "/" and has no spaces, "?", "#", "\\" or "//"`);
  }
}

function validateCache(cache: RouteCacheOptions, method: HttpMethod, what: string): void {
  if (method !== 'GET') throw new AppDefinitionError(`${what}: only GET routes can be cached`);
  if (!Number.isInteger(cache.maxAge) || cache.maxAge <= 0) {
    throw new AppDefinitionError(`${what}: cache.maxAge is a whole number of seconds above 0`);
  }
  const topics = cache.invalidatedBy ?? [];
  if (!Array.isArray(topics) || topics.some((topic) => typeof topic !== 'string' || topic === '')) {
    throw new AppDefinitionError(`${what}: cache.invalidatedBy lists event topics`);
  }
}

export function defineService(name: string, options?: ServiceOptions): Service {
  return new Service(name, options);
}

export type { EventHandler };
