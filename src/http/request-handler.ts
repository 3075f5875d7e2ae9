// The request pipeline of one process: id -> normalise -> match -> auth ->
// body -> validate -> handler -> response -> access log. In split mode the
// gateway runs the same first stages before its upstream hop.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ServiceContext } from '../app/context.ts';
import { DEFAULT_BODY_LIMIT, type RouteDefinition } from '../app/route.ts';
import { MethodNotAllowedError, RouteNotFoundError, UnauthorizedError } from '../errors.ts';
import type { Authenticator } from './auth.ts';
import { hasBody, parseBody, readBody } from './body.ts';
import { normalizeTarget } from './path.ts';
import { HttpRequestContext } from './request-context.ts';
import { requestIdOf } from './request-id.ts';
import { sendError, sendResult } from './respond.ts';
import type { Router } from './router.ts';
import { serveStatic } from './static.ts';
import { validate } from './validate.ts';

export interface RequestHandlerOptions {
  router: Router;
  auth: Authenticator;
  log: Logger;
  contextFor(service: string): ServiceContext;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createRequestHandler(options: RequestHandlerOptions): RequestListener {
  const { router, auth, log } = options;

  async function dispatch(req: IncomingMessage, res: ServerResponse, requestId: string, state: { service: string }) {
    const method = req.method ?? 'GET';
    const { path, search } = normalizeTarget(req.url ?? '');
    const match = router.match(method, path);
    switch (match.kind) {
      case 'route':
        state.service = match.route.service;
        return runRoute(req, res, match.route, match.params, path, search, requestId);
      case 'static':
        state.service = match.definition.service;
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
    requestId: string,
  ): Promise<void> {
    const token = auth.tokenOf(req);
    const user = token === undefined ? undefined : await auth.verify(token);
    if (route.options.auth && !user) throw new UnauthorizedError();
    const routeOptions = route.options;
    let body: unknown;
    if (hasBody(req) && req.method !== 'GET' && req.method !== 'HEAD') {
      body = parseBody(await readBody(req, routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT), req.headers['content-type']);
    }
    const query = search === '' ? {} : Object.fromEntries(new URLSearchParams(search));
    const ctx = new HttpRequestContext(options.contextFor(route.service), auth, res, {
      req,
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
    });
    await sendResult(res, await route.handler(ctx as never));
  }

  return function handleRequest(req, res) {
    const started = performance.now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    const state = { service: '-' };
    res.setHeader('x-request-id', requestId);
    res.once('close', () => {
      log.info(
        {
          requestId,
          method: req.method,
          path: req.url,
          status: res.statusCode,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          service: state.service,
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    dispatch(req, res, requestId, state).catch((error: unknown) => sendError(res, error, requestId, log));
  };
}
