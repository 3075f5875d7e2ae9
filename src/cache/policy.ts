// What the gateway's cache may store and for how long, from the response's own headers and
// the route's `cache` option. The response speaks first (as nginx and Varnish read it): its
// s-maxage or max-age sets the lifetime, and no-store, no-cache or private forbid storing; the
// route's maxAge is the lifetime of responses that say nothing.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { RouteCacheOptions } from '../app/route.ts';
import { parseCacheControl } from './cache-control.ts';

export interface Freshness {
  /** How long from now the stored response may be served. */
  ttlMs: number;
  /** Seconds the response had already spent in caches upstream (its Age header). */
  age: number;
  /** May answer requests that carry credentials (Authorization, cookies). */
  shared: boolean;
  /** Request headers the response varies on, lower case, sorted. */
  vary: string[];
}

type ResponseHeaders = OutgoingHttpHeaders | Record<string, string | string[] | undefined>;

/** Undefined when the response must not be stored. */
export function freshnessOf(
  status: number,
  headers: ResponseHeaders,
  route: RouteCacheOptions | undefined,
): Freshness | undefined {
  // 2xx but a partial range, and 404 (a negative answer worth keeping briefly); never other errors.
  if (!((status >= 200 && status < 300 && status !== 206) || status === 404)) return undefined;
  // A cookie set for one client must never reach another.
  if (headers['set-cookie'] !== undefined) return undefined;
  const vary = varyOf(headers.vary);
  if (vary === undefined) return undefined;
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.noStore || directives.noCache || directives.private) return undefined;
  const lifetime = directives.sMaxAge ?? directives.maxAge ?? route?.maxAge;
  const age = Number(headers.age) || 0;
  if (lifetime === undefined || lifetime - age <= 0) return undefined;
  return {
    ttlMs: (lifetime - age) * 1000,
    age,
    // RFC 9111 §3.5: public or s-maxage let a shared cache answer requests with credentials.
    shared: directives.public || directives.sMaxAge !== undefined || route?.public === true,
    vary,
  };
}

/** The Vary field names, lower case and sorted; undefined for `Vary: *` (never served from a cache). */
export function varyOf(value: string | string[] | number | undefined): string[] | undefined {
  if (value === undefined) return [];
  const names = new Set<string>();
  for (const name of (Array.isArray(value) ? value.join(',') : String(value)).split(',')) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed === '*') return undefined;
    if (trimmed !== '') names.add(trimmed);
  }
  return [...names].sort();
}

/** The request carries credentials, so its answer may be personal: cached only where declared shared. */
export function carriesCredentials(headers: IncomingHttpHeaders): boolean {
  return headers.authorization !== undefined || headers.cookie !== undefined;
}
