// Every cleave HTTP server — `cleave dev`, the gateway, each replica — answers one reserved
// path for load balancers, orchestrators and the gateway's own probes. It is answered on the
// event loop that serves requests, so a loop that is blocked fails the probe by timing out:
// that is the point. While a server drains it answers 503, so a balancer in front stops
// sending before the port closes.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Paths under this prefix belong to cleave; defineApp refuses app routes there. */
export const RESERVED_PREFIX = '/_cleave/';
export const HEALTH_PATH = '/_cleave/health';

const OK = Buffer.from('{"status":"ok"}');
const DRAINING = Buffer.from('{"status":"draining"}');

/** True for a probe of HEALTH_PATH (GET or HEAD; a query string is not one). */
export function isHealthProbe(req: IncomingMessage): boolean {
  return req.url === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD');
}

export function answerHealthProbe(req: IncomingMessage, res: ServerResponse, draining: boolean): void {
  const body = draining ? DRAINING : OK;
  res.writeHead(draining ? 503 : 200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
