// The gateway's request pipeline (split mode): request id → normalise → route match → owning
// service → replica → upstream hop → access log. It routes with the very normalizeTarget and
// Router the replicas use, so the two can't disagree on which service owns a request, and it
// answers what a replica would (400, 404, 405) without a hop.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { MethodNotAllowedError, RouteNotFoundError, UnauthorizedError } from '../errors.ts';
import { RESERVED_PREFIX } from '../http/health-endpoint.ts';
import { hasBody } from '../http/body.ts';
import { normalizeTarget } from '../http/path.ts';
import type { RequestPipeline } from '../http/request-handler.ts';
import { requestIdOf } from '../http/request-id.ts';
import { sendError } from '../http/respond.ts';
import type { Router } from '../http/router.ts';
import { UpstreamUnavailableError } from './errors.ts';
import { ProxyExchange, type ExchangeSettings } from './exchange.ts';
import type { TrustedProxies } from './forwarded.ts';
import type { UpstreamPools } from '../upstream/pools.ts';
import { upstreamRequestHeaders } from './request-headers.ts';
import { logAccess } from '../observability/access-log.ts';
import { type Metrics, requestFactsOf } from '../observability/metrics.ts';
import type { CachedResponse, ResponseCache } from '../cache/response-cache.ts';
import type { RouteDefinition } from '../app/route.ts';
import type { Authenticator } from '../http/auth.ts';
import type { RateLimiter } from '../http/rate-limit.ts';
import { writeCached } from '../cache/write-cached.ts';
import { peersOf } from './peers.ts';
import { peerAddress } from './forwarded.ts';
import { endHttpSpan, startHttpSpan } from '../observability/http-spans.ts';
import { carrierOf, tracingOn } from '../observability/tracing.ts';
import { DECLINED_HEADER } from '../upstream/remote-nodes.ts';

export interface ProxyOptions {
  router: Router;
  pools: UpstreamPools;
  log: Logger;
  /** Peers whose X-Forwarded-* are believed (and appended to); shared with the upgrade proxy. */
  trustedProxies: TrustedProxies;
  /** A node listener's: this node's id. Its peers are other nodes' gateways (peers.ts). */
  asNode?: string;
  /** Further replicas one request may try. @default 2 */
  maxRetries?: number;
  /**
   * Longest wait for a replica's response head; past it 504. Above the replicas' own handler
   * deadline (30 s), so a live replica's 503 for a stuck handler arrives first. @default 35000
   */
  responseTimeoutMs?: number;
  /** Longest pause between two chunks of a response body; past it the connection is cut. @default 30000 */
  bodyTimeoutMs?: number;
  /** One log line per request. @default true */
  accessLog?: boolean;
  /** GET and HEAD answers kept here (CLEAVE_CACHE); none when absent. */
  cache?: ResponseCache;
  /**
   * What the replicas check before answering, checked here for the answers the cache gives:
   * sign-in for `auth` routes, and the client's limits, counted at the very counters the
   * replicas use (the supervisor's), so each request counts once wherever it is answered.
   */
  cacheGuards?: { limiter: RateLimiter; auth: Authenticator };
  /** Counts each request by route, status and cache use, and times it; none when absent. */
  metrics?: Metrics;
}

const EXCHANGE = Symbol('cleave.gateway.exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: ProxyExchange };

export function createProxy(options: ProxyOptions): RequestPipeline {
  const { router, pools, log, cache } = options;
  const { trustedProxies, clientTrust, appendPeer, affinity, declines } = peersOf(
    options.trustedProxies,
    options.asNode,
  );
  const accessLog = options.accessLog ?? true;
  const settings: ExchangeSettings = {
    log,
    maxRetries: options.maxRetries ?? 2,
    responseTimeoutMs: options.responseTimeoutMs ?? 35_000,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
    trustedProxies: clientTrust,
    affinity,
    declines,
    cache,
  };

  function route(req: IncomingMessage, exchange: ProxyExchange): void {
    const method = req.method ?? 'GET';
    const { path, search } = normalizeTarget(req.url ?? '');
    exchange.path = path;
    // cleave's own paths are never reached from outside, even
    // through an app route with a wildcard.
    if (path.startsWith(RESERVED_PREFIX)) throw new RouteNotFoundError(`no route for ${method} ${path}`);
    const match = router.match(method, path);
    let service: string;
    switch (match.kind) {
      case 'route':
        service = match.route.service;
        exchange.route = match.route.path;
        break;
      case 'static':
        service = match.definition.service;
        exchange.route = match.definition.prefix;
        break;
      case 'method-not-allowed':
        throw new MethodNotAllowedError(match.allow);
      case 'none':
        throw new RouteNotFoundError(`no route for ${method} ${path}`);
    }
    exchange.service = service;
    // The replica gets the target the gateway routed on, so it can't read the path differently.
    const target = search === '' ? path : `${path}?${search}`;
    if (cache === undefined) return forward(req, exchange, target);
    if (method !== 'GET' && method !== 'HEAD') {
      exchange.tap = cache.unsafeTap(path);
      return forward(req, exchange, target);
    }
    const routed = match.kind === 'route' ? match.route : undefined;
    // An auth route's answer needs a sign-in check before it is given from the cache.
    if (routed?.options.auth === true && options.cacheGuards === undefined) return forward(req, exchange, target);
    const decision = cache.consult(req, path, search, routed);
    switch (decision.kind) {
      case 'hit':
        return answerFromCache(req, exchange, decision.entry, routed);
      case 'wait':
        decision.entry.then(
          (entry) => {
            if (exchange.res.destroyed) return; // the client left while it waited
            if (entry === undefined) return forward(req, exchange, target);
            answerFromCache(req, exchange, entry, routed);
          },
          (error: unknown) => sendError(exchange.res, error, exchange.requestId, log),
        );
        return;
      case 'fill':
        exchange.cache = 'MISS';
        exchange.tap = decision.fill;
        return forward(req, exchange, target);
      case 'pass':
        return forward(req, exchange, target);
    }
  }

  function answerFromCache(
    req: IncomingMessage,
    exchange: ProxyExchange,
    entry: CachedResponse,
    route: RouteDefinition | undefined,
  ): void {
    exchange.cache = 'HIT';
    const guards = options.cacheGuards;
    const limited = guards !== undefined && route !== undefined && guards.limiter.applies(route);
    const signInNeeded = route?.options.auth === true;
    if (guards === undefined || route === undefined || (!limited && !signInNeeded)) {
      return writeCached(req, exchange.res, entry, exchange.requestId);
    }
    const { limiter, auth } = guards;
    const token = auth.tokenOf(req);
    void (token === undefined ? Promise.resolve(undefined) : auth.verify(token))
      .then(async (user) => {
        if (limited) await limiter.admit(req, exchange.res, route, user);
        if (signInNeeded && !user) throw new UnauthorizedError();
      })
      .then(
        () => writeCached(req, exchange.res, entry, exchange.requestId),
        (error: unknown) => sendError(exchange.res, error, exchange.requestId, log),
      );
  }

  /** Both bodies are streamed, never buffered. */
  function forward(req: IncomingMessage, exchange: ProxyExchange, target: string): void {
    try {
      const pool = pools.get(exchange.service);
      if (!pool) {
        if (declines) exchange.res.setHeader(DECLINED_HEADER, '1');
        throw new UpstreamUnavailableError(`no replica of ${exchange.service} is running`);
      }
      const headers = upstreamRequestHeaders(req, {
        requestId: exchange.requestId,
        trustedProxies,
        appendPeer,
        trace: exchange.span && carrierOf(exchange.span),
      });
      exchange.start(pool, target, headers, hasBody(req));
    } catch (error) {
      exchange.tap?.abandon();
      sendError(exchange.res, error, exchange.requestId, log);
    }
  }

  return {
    handle(req, res) {
      const exchange = new ProxyExchange(req, res, settings, requestIdOf(req.headers['x-request-id']), pathOf(req.url));
      (res as TrackedResponse)[EXCHANGE] = exchange;
      // Another node's gateway is a trusted peer of a node listener: one trace across both.
      if (tracingOn()) exchange.span = startHttpSpan(req, trustedProxies.trusts(peerAddress(req)));
      try {
        route(req, exchange);
      } catch (error) {
        sendError(res, error, exchange.requestId, log);
      }
    },

    closed(req, res) {
      const exchange = (res as TrackedResponse)[EXCHANGE];
      if (!exchange) return;
      exchange.clientClosed();
      if (accessLog) {
        logAccess(log, { req, res, facts: exchange }, { replica: exchange.replicaId, retries: exchange.retries });
      }
      const cacheUse = exchange.cache === 'HIT' ? 'hit' : exchange.cache === 'MISS' ? 'miss' : 'none';
      options.metrics?.gatewayRequestEnded({ ...requestFactsOf(req, res, exchange), cache: cacheUse });
      endHttpSpan(req, res, exchange, {
        'cleave.replica': exchange.replicaId,
        'cleave.retries': exchange.retries,
        'cleave.cache': cacheUse,
      });
    },
  };
}

/** The path as received, for the log until normalisation succeeds. The query stays out of the log. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '';
  const queryAt = raw.indexOf('?');
  return queryAt < 0 ? raw : raw.slice(0, queryAt);
}
