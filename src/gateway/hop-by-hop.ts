// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: a proxy
// removes them, along with every header the Connection field names, in both directions.

import type { IncomingHttpHeaders } from 'node:http';

/** Always hop-by-hop, lower case. `proxy-*` is matched by prefix on top of these. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Headers a Connection field may not remove: Host is the request's identity (routing, and the
 * X-Forwarded-Host a replica sees), so a client can't make the replica see another one by
 * naming it as a connection option.
 */
const PROTECTED = new Set(['host']);

/** True for a lower-case header name a proxy never forwards. */
export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-');
}

/**
 * The extra header names a Connection field lists, lower case; undefined when it names none
 * beyond the usual `keep-alive` / `close` / `upgrade` (nearly every request), so the common
 * case allocates nothing.
 */
export function connectionOptions(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  let names: string[] | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || HOP_BY_HOP.has(name) || name === 'close' || PROTECTED.has(name)) continue;
    (names ??= []).push(name);
  }
  return names;
}

/** Removes hop-by-hop fields from a replica's parsed response headers, in place. */
export function stripResponseHopByHop(headers: IncomingHttpHeaders): void {
  const named = connectionOptions(headers.connection);
  if (named) for (const name of named) delete headers[name];
  // One pass over the few names a response has, deleting only those present (`proxy-*` has
  // no fixed list to look up).
  for (const name in headers) if (isHopByHop(name)) delete headers[name];
}
