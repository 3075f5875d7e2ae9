// The request pipeline of one process: id -> normalise -> match -> auth ->
// body -> validate -> handler -> response -> access log. In split mode the
// gateway runs the same first stages before its upstream hop.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ServiceContext } from '../app/context.ts';
import { Reply } from '../app/reply.ts';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_HANDLER_TIMEOUT_MS,
  type HandlerResult,
  type RouteDefinition,
} from '../app/route.ts';
import {
  CleaveError,
  HandlerTimeoutError,
  MethodNotAllowedError,
  RouteNotFoundError,
  UnauthorizedError,
} from '../errors.ts';
import type { Authenticator } from './auth.ts';
import { hasBody, parseBody, readBody } from './body.ts';
import { RESERVED_PREFIX } from './health-endpoint.ts';
import { normalizeTarget } from './path.ts';
import type { RateLimiter } from './rate-limit.ts';
import { HttpRequestContext } from './request-context.ts';
import { requestIdOf } from './request-id.ts';
import { type HeaderBag, sendError, sendResult, statusOf } from './respond.ts';
import type { ResponseCache, ResponseTap } from '../cache/response-cache.ts';
import { writeCached } from '../cache/write-cached.ts';
import type { CallWithMeta } from '../calls/call-context.ts';
import type { Router } from './router.ts';
import { serveStatic } from './static.ts';
import { validate } from './validate.ts';
import { logAccess } from '../observability/access-log.ts';
import { type Metrics, requestFactsOf } from '../observability/metrics.ts';
import { endHttpSpan, startHttpSpan } from '../observability/http-spans.ts';
import { type ActiveSpan, tracingOn, within } from '../observability/tracing.ts';
import { peerAddress, type TrustedProxies } from '../gateway/forwarded.ts';

export interface RequestHandlerOptions {
  router: Router;
  auth: Authenticator;
  log: Logger;
  contextFor(service: string): ServiceContext;
  /** One log line per request. @default true */
  accessLog?: boolean;
  /** The rate-limit stage; none when absent. */
  rateLimiter?: RateLimiter;
  /** The response cache, at the edge only (together); a split replica's gateway caches instead. */
  cache?: ResponseCache;
  /** Split: a gateway relays (and caches) the responses. @default false */
  behindGateway?: boolean;
  /** ctx.call for handlers, with the request's id and deadline passed on. */
  calls?: CallWithMeta;
  /** Counts each request by route and status, and times it; none when absent. */
  metrics?: Metrics;
  /** Whose `traceparent` is believed, besides the gateway's in front of a replica (CLEAVE_TRUSTED_PROXIES). */
  trustedProxies?: TrustedProxies;
}

/** What the HTTP server drives: `handle` per request, `closed` once its response is over. */
export interface RequestPipeline {
  handle(req: IncomingMessage, res: ServerResponse): void;
  closed(req: IncomingMessage, res: ServerResponse): void;
}

/** Per-request facts the access log needs, kept on the response under a symbol. */
interface Exchange {
  started: number;
  requestId: string;
  service: string;
  path: string;
  /** The route's pattern or the static folder's prefix, for the metrics; '-' when none matched. */
  route: string;
  cache?: 'HIT' | 'MISS';
  /** The cache storing this response, if it may. */
  tap?: ResponseTap;
  /** The request's span, when traced. */
  span?: ActiveSpan | undefined;
}

const EXCHANGE = Symbol('cleave.exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

export function createRequestHandler(options: RequestHandlerOptions): RequestPipeline {
  const { router, auth, log } = options;
  const accessLog = options.accessLog ?? true;
  // A replica's requests come from its gateway, which set their trace context.
  const behindGateway = options.behindGateway ?? false;

  async function dispatch(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const method = req.method ?? 'GET';
    const { path, search } = normalizeTarget(req.url ?? '');
    exchange.path = path;
    // cleave's own paths are answered by the server (health) or not at all, whatever an app's
    // wildcard route says.
    if (path.startsWith(RESERVED_PREFIX)) throw new RouteNotFoundError(`no route for ${method} ${path}`);
    const match = router.match(method, path);
    switch (match.kind) {
      case 'route':
        exchange.service = match.route.service;
        exchange.route = match.route.path;
        return runRoute(req, res, match.route, match.params, path, search, exchange);
      case 'static':
        exchange.service = match.definition.service;
        exchange.route = match.definition.prefix;
        res.setHeader('x-request-id', exchange.requestId);
        return serveStatic(req, res, match.definition, match.relativePath);
      case 'method-not-allowed':
        throw new MethodNotAllowedError(match.allow);
      case 'none':
        throw new RouteNotFoundError(`no route for ${method} ${path}`);
    }
  }

  async function runRoute(
    req: IncomingMessage,
    res: ServerResponse,
    route: RouteDefinition,
    rawParams: Record<string, string>,
    path: string,
    search: string,
    exchange: Exchange,
  ): Promise<void> {
    const { requestId } = exchange;
    const token = auth.tokenOf(req);
    const user = token === undefined ? undefined : await auth.verify(token);
    const limiter = options.rateLimiter;
    const guard = limiter?.applies(route) ? await limiter.admit(req, res, route, user) : undefined;
    if (route.options.auth && !user) throw new UnauthorizedError();
    const { cache } = options;
    if (cache !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      const decision = cache.consult(req, path, search, route);
      const entry =
        decision.kind === 'hit' ? decision.entry : decision.kind === 'wait' ? await decision.entry : undefined;
      if (entry !== undefined) {
        exchange.cache = 'HIT';
        return writeCached(req, res, entry, requestId);
      }
      if (decision.kind === 'fill') {
        exchange.cache = 'MISS';
        exchange.tap = decision.fill;
      }
    }
    const routeOptions = route.options;
    let body: unknown;
    if (hasBody(req) && req.method !== 'GET' && req.method !== 'HEAD') {
      body = parseBody(await readBody(req, routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT), req.headers['content-type']);
    }
    await guard?.check(body);
    const query = search === '' ? {} : Object.fromEntries(new URLSearchParams(search));
    const headers: HeaderBag = { 'x-request-id': requestId };
    const ctx = new HttpRequestContext(options.contextFor(route.service), {
      auth,
      req,
      res,
      headers,
      path,
      // No await without a schema: each one is a microtask hop per request.
      params: (routeOptions.params ? await validate(routeOptions.params, rawParams, 'params') : rawParams) as Record<
        string,
        string
      >,
      query: routeOptions.query ? await validate(routeOptions.query, query, 'query') : query,
      body: routeOptions.body ? await validate(routeOptions.body, body, 'body') : body,
      requestId,
      user,
      log,
      behindGateway,
      deadline: Date.now() + (routeOptions.timeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS),
      ...(options.calls ? { calls: options.calls } : {}),
    });
    let result: HandlerResult;
    try {
      result = await withDeadline(
        route.handler(ctx as never),
        routeOptions.timeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS,
        (error) => ctx.cancel(error),
      );
    } catch (error) {
      await guard?.record(error instanceof CleaveError ? error.status : 500);
      throw error;
    }
    await guard?.record(result instanceof Reply ? result.status : 200);
    // Before the response leaves: a client reading right after its write sees the new data.
    if (cache !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      cache.afterUnsafe(path, statusOf(result), result instanceof Reply ? result.headers : {});
    }
    await sendResult(res, result, headers, exchange.tap);
  }

  return {
    handle(req, res) {
      const exchange: Exchange = {
        started: performance.now(),
        requestId: requestIdOf(req.headers['x-request-id']),
        service: '-',
        path: pathOf(req.url),
        route: '-',
        span: tracingOn()
          ? startHttpSpan(req, behindGateway || (options.trustedProxies?.trusts(peerAddress(req)) ?? false))
          : undefined,
      };
      (res as TrackedResponse)[EXCHANGE] = exchange;
      const run = () =>
        dispatch(req, res, exchange).catch((error: unknown) =>
          sendError(res, error, exchange.requestId, log, exchange.tap),
        );
      void (exchange.span === undefined ? run() : within(exchange.span, run));
    },

    closed(req, res) {
      const exchange = (res as TrackedResponse)[EXCHANGE];
      // A response cut short stores nothing, and whoever waited on it asks for itself.
      exchange?.tap?.abandon();
      if (!exchange) return;
      if (accessLog) logAccess(log, { req, res, facts: exchange });
      options.metrics?.requestEnded(requestFactsOf(req, res, exchange));
      endHttpSpan(req, res, exchange);
    },
  };
}

/**
 * A handler that never answers must not leave its client hanging: past the
 * deadline the request fails (503) and the handler's signal aborts, so a
 * handler that passes ctx.signal on (fetch, timers) stops its work too.
 */
function withDeadline<T>(result: T | Promise<T>, timeoutMs: number, onTimeout: (error: Error) => void): Promise<T> | T {
  if (!(result instanceof Promise)) return result;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new HandlerTimeoutError(timeoutMs);
      // Rejected first: a handler that settles when its signal aborts must not win the race.
      reject(error);
      onTimeout(error);
    }, timeoutMs);
  });
  return Promise.race([result, deadline]).finally(() => clearTimeout(timer));
}

/** The path as received, for the log until normalisation succeeds. The query stays out of the log. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '';
  const queryAt = raw.indexOf('?');
  return queryAt < 0 ? raw : raw.slice(0, queryAt);
}
