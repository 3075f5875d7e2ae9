// The ctx a route handler gets: the request's own data on top of its
// service's context (emit, run, store, log).

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseCookies } from 'cookie';
import type { Logger } from 'pino';
import type { EventHandler } from '../bus/types.ts';
import type { RequestContext, ServiceContext, SignInOptions, User } from '../app/context.ts';
import type { Job } from '../queue/types.ts';
import type { TaskRef } from '../app/task.ts';
import type { Collection } from '../store/collection.ts';
import type { Authenticator } from './auth.ts';
import type { HeaderBag } from './respond.ts';
import { INVALIDATE_HEADER } from '../cache/invalidation.ts';
import type { CallOptions } from '../app/action.ts';
import type { CallWithMeta } from '../calls/call-context.ts';

export interface RequestData {
  auth: Authenticator;
  req: IncomingMessage;
  /** Absent for a WebSocket's context: there is no HTTP response to shape. */
  res?: ServerResponse;
  /** Response headers gathered until the response is written (with `res`). */
  headers?: HeaderBag;
  path: string;
  params: Record<string, string>;
  query: unknown;
  body: unknown;
  requestId: string;
  user: User | undefined;
  /** The process logger; the per-request child is made only when a handler logs. */
  log: Logger;
  /** Split: a gateway relays the response (and caches). */
  behindGateway?: boolean;
  /** When the handler must have answered (ms since the epoch): calls it makes inherit it. */
  deadline?: number;
  /** The process's ctx.call, given the chain's request id and deadline. */
  calls?: CallWithMeta;
}

export class HttpRequestContext implements RequestContext<unknown, unknown, unknown> {
  readonly req: IncomingMessage;
  readonly path: string;
  readonly params: Record<string, string>;
  readonly query: unknown;
  readonly body: unknown;
  readonly requestId: string;
  private currentUser: User | undefined;
  private cookies: Record<string, string | undefined> | undefined;
  private readonly rootLog: Logger;
  private childLog: Logger | undefined;
  private abort: AbortController | undefined;
  private readonly auth: Authenticator;
  private readonly res: ServerResponse | undefined;
  private readonly headersOut: HeaderBag | undefined;
  private readonly behindGateway: boolean;
  private readonly deadline: number;
  private readonly calls: CallWithMeta | undefined;

  private readonly base: ServiceContext;

  constructor(base: ServiceContext, data: RequestData) {
    this.base = base;
    this.auth = data.auth;
    this.res = data.res;
    this.headersOut = data.headers;
    this.behindGateway = data.behindGateway ?? false;
    this.deadline = data.deadline ?? Infinity;
    this.calls = data.calls;
    this.req = data.req;
    this.path = data.path;
    this.params = data.params;
    this.query = data.query;
    this.body = data.body;
    this.requestId = data.requestId;
    this.currentUser = data.user;
    this.rootLog = data.log;
  }

  // Made on first use: most handlers never look at their signal or log, and
  // both cost measurably per request (bench/pipeline.ts).
  get log(): Logger {
    this.childLog ??= this.rootLog.child({ requestId: this.requestId, service: this.base.service });
    return this.childLog;
  }

  /** Aborts ctx.signal: the answer no longer matters (deadline passed). */
  cancel(reason: unknown): void {
    this.abort ??= new AbortController();
    this.abort.abort(reason);
  }

  get signal(): AbortSignal {
    if (!this.abort) {
      const abort = new AbortController();
      this.abort = abort;
      const res = this.res;
      if (!res) return abort.signal;
      if (res.writableFinished) return abort.signal;
      if (res.destroyed) abort.abort();
      else
        res.once('close', () => {
          if (!res.writableFinished) abort.abort();
        });
    }
    return this.abort.signal;
  }

  get service(): string {
    return this.base.service;
  }
  get method(): string {
    return this.req.method ?? 'GET';
  }
  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }
  get user(): User | undefined {
    return this.currentUser;
  }

  cookie(name: string): string | undefined {
    this.cookies ??= this.req.headers.cookie ? parseCookies(this.req.headers.cookie) : {};
    return this.cookies[name];
  }

  setHeader(name: string, value: string | string[]): void {
    if (this.headersOut) this.headersOut[name.toLowerCase()] = value;
  }

  async signIn(user: User, options: SignInOptions = {}): Promise<string> {
    const token = await this.auth.sign(user, options.maxAgeSeconds);
    this.appendSetCookie(this.auth.sessionCookie(token, options.maxAgeSeconds));
    this.currentUser = user;
    return token;
  }

  signOut(): void {
    this.appendSetCookie(this.auth.clearedCookie());
    this.currentUser = undefined;
  }

  emit(topic: string, payload: unknown): Promise<void> {
    return this.base.emit(topic, payload);
  }
  on<T = unknown>(topic: string, handler: EventHandler<T>): () => void {
    return this.base.on(topic, handler);
  }
  off(topic: string, handler: EventHandler): void {
    this.base.off(topic, handler);
  }
  run<I, O>(task: TaskRef<I, O>, input: I): Promise<O> {
    return this.base.run(task, input);
  }
  enqueue<I, O>(task: TaskRef<I, O>, input: I): Promise<Job<O>> {
    return this.base.enqueue(task, input);
  }
  job<O = unknown>(id: string): Promise<Job<O> | undefined> {
    return this.base.job<O>(id);
  }
  store<T = unknown>(collection: string): Collection<T> {
    return this.base.store<T>(collection);
  }

  call(action: unknown, input: unknown, options?: CallOptions): Promise<never> {
    if (!this.calls) return (this.base.call as (...args: unknown[]) => Promise<never>)(action, input, options);
    return this.calls(action, input, options, { requestId: this.requestId, deadline: this.deadline }) as Promise<never>;
  }

  async invalidate(...targets: string[]): Promise<void> {
    await this.base.invalidate(...targets);
    // Split, the event crosses the supervisor while this response goes straight to the
    // gateway and could get there first: the gateway also drops what this header names
    // before relaying the response (and keeps the header to itself).
    // On the response itself, not the handler's header bag: an error answer keeps it too.
    const res = this.res;
    if (!this.behindGateway || !res || res.headersSent) return;
    const named = targets.map((target) => encodeURIComponent(target)).join(',');
    const existing = res.getHeader(INVALIDATE_HEADER);
    res.setHeader(INVALIDATE_HEADER, existing === undefined ? named : `${String(existing)},${named}`);
  }

  private appendSetCookie(cookie: string): void {
    if (!this.headersOut) return;
    const existing = this.headersOut['set-cookie'];
    const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    this.headersOut['set-cookie'] = [...list, cookie];
  }
}
