// The gateway's request pipeline (split mode): request id → normalise → route match → owning
// service → replica → upstream hop → access log. It routes with the very normalizeTarget and
// Router the replicas use, so the two can't disagree on which service owns a request, and it
// answers what a replica would (400, 404, 405) without a hop.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { MethodNotAllowedError, RouteNotFoundError } from '../errors.ts';
import { hasBody } from '../http/body.ts';
import { normalizeTarget } from '../http/path.ts';
import type { RequestPipeline } from '../http/request-handler.ts';
import { requestIdOf } from '../http/request-id.ts';
import { sendError } from '../http/respond.ts';
import type { Router } from '../http/router.ts';
import { UpstreamUnavailableError } from './errors.ts';
import { ProxyExchange, type ExchangeSettings } from './exchange.ts';
import type { TrustedProxies } from './forwarded.ts';
import type { UpstreamPools } from './pools.ts';
import { upstreamRequestHeaders } from './request-headers.ts';
import { logAccess } from '../observability/access-log.ts';

export interface ProxyOptions {
  router: Router;
  pools: UpstreamPools;
  log: Logger;
  /** Peers whose X-Forwarded-* are believed (and appended to); shared with the upgrade proxy. */
  trustedProxies: TrustedProxies;
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
}

const EXCHANGE = Symbol('cleave.gateway.exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: ProxyExchange };

export function createProxy(options: ProxyOptions): RequestPipeline {
  const { router, pools, log, trustedProxies } = options;
  const accessLog = options.accessLog ?? true;
  const settings: ExchangeSettings = {
    log,
    maxRetries: options.maxRetries ?? 2,
    responseTimeoutMs: options.responseTimeoutMs ?? 35_000,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
    trustedProxies,
  };

  function route(req: IncomingMessage, exchange: ProxyExchange): void {
    const method = req.method ?? 'GET';
    const { path, search } = normalizeTarget(req.url ?? '');
    exchange.path = path;
    const match = router.match(method, path);
    let service: string;
    switch (match.kind) {
      case 'route':
        service = match.route.service;
        break;
      case 'static':
        service = match.definition.service;
        break;
      case 'method-not-allowed':
        throw new MethodNotAllowedError(match.allow);
      case 'none':
        throw new RouteNotFoundError(`no route for ${method} ${path}`);
    }
    exchange.service = service;
    const pool = pools.get(service);
    if (!pool) throw new UpstreamUnavailableError(`no replica of ${service} is running`);
    const headers = upstreamRequestHeaders(req, { requestId: exchange.requestId, trustedProxies });
    // Both bodies are streamed, never buffered. The replica gets the target the gateway
    // routed on, so it can't read the path differently.
    exchange.start(pool, search === '' ? path : `${path}?${search}`, headers, hasBody(req));
  }

  return {
    handle(req, res) {
      const exchange = new ProxyExchange(req, res, settings, requestIdOf(req.headers['x-request-id']), pathOf(req.url));
      (res as TrackedResponse)[EXCHANGE] = exchange;
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
    },
  };
}

/** The path as received, for the log until normalisation succeeds. The query stays out of the log. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '';
  const queryAt = raw.indexOf('?');
  return queryAt < 0 ? raw : raw.slice(0, queryAt);
}
