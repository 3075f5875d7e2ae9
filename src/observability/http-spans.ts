// The span of one HTTP request where it is answered or proxied: the monolith's and a replica's
// pipeline and the gateway's, named and described alike (OpenTelemetry's HTTP semantic
// conventions), so a trace reads the same whichever hop a span comes from.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes } from '@opentelemetry/api';
import { answeredStatus } from './access-log.ts';
import { type ActiveSpan, endSpan, SpanKind, startSpan } from './tracing.ts';

/**
 * A server span for `req` (asked only while tracingOn(): working out `believed` costs). `believed`: the request's own
 * `traceparent` is its parent (it came through the gateway, or from a proxy CLEAVE_TRUSTED_PROXIES
 * names); otherwise a client could join or forge any trace, so the request starts a new one.
 */
export function startHttpSpan(req: IncomingMessage, believed: boolean): ActiveSpan {
  const method = req.method ?? 'GET';
  return startSpan(method, SpanKind.SERVER, { 'http.request.method': method }, believed ? req.headers : null);
}

/** What the pipeline learnt of the request by its end. */
export interface HttpSpanFacts {
  span?: ActiveSpan | undefined;
  requestId: string;
  path: string;
  /** The route's pattern, '-' when none matched. */
  route: string;
  service: string;
}

/** Ends the request's span with its route, status and service; a 5xx marks it failed. */
export function endHttpSpan(
  req: IncomingMessage,
  res: ServerResponse,
  facts: HttpSpanFacts,
  attributes: Attributes = {},
): void {
  const active = facts.span;
  if (active === undefined) return;
  const { span } = active;
  const status = answeredStatus(res);
  if (facts.route !== '-') {
    span.updateName(`${req.method ?? 'GET'} ${facts.route}`);
    span.setAttribute('http.route', facts.route);
  }
  span.setAttributes({
    ...attributes,
    'url.path': facts.path,
    'http.response.status_code': status,
    'cleave.service': facts.service,
    'cleave.request_id': facts.requestId,
  });
  endSpan(active, status >= 500 ? { code: String(status), message: `answered ${status}` } : undefined);
}
