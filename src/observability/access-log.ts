// The one shape of an access-log line, shared by the monolith's pipeline and
// the gateway, so a log search works the same on both.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { type ActiveSpan, traceFieldsOf } from './tracing.ts';

export interface AccessFacts {
  requestId: string;
  /** Normalised when normalisation succeeded; never with the query string. */
  path: string;
  /** performance.now() when the request arrived. */
  started: number;
  service: string;
  /** HIT or MISS when the response cache was asked. */
  cache?: 'HIT' | 'MISS';
  /** The request's span, when traced: the line carries its trace and span ids. */
  span?: ActiveSpan | undefined;
}

export function logAccess(
  log: Logger,
  exchange: { req: IncomingMessage; res: ServerResponse; facts: AccessFacts },
  extra?: Record<string, unknown>,
): void {
  const { req, res, facts } = exchange;
  const finished = res.writableFinished;
  log.info(
    {
      requestId: facts.requestId,
      method: req.method,
      path: facts.path,
      status: answeredStatus(res),
      durationMs: Math.round((performance.now() - facts.started) * 100) / 100,
      service: facts.service,
      ...(facts.cache === undefined ? {} : { cache: facts.cache }),
      ...extra,
      // Written as the response closes, outside the request's context: the ids are named here.
      ...traceFieldsOf(facts.span?.span),
      ...(finished ? {} : { aborted: true }),
    },
    'request',
  );
}

/** The status a response went out with; closed before anything was answered: nginx's 499, not the 200 node presets. */
export function answeredStatus(res: ServerResponse): number {
  return res.writableFinished || res.headersSent ? res.statusCode : 499;
}
