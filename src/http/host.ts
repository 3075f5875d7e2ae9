// The Host header's grammar (RFC 9110 §7.2: uri-host [":" port], RFC 3986 §3.2.2). A value
// outside it is the client's error, answered 400 by every server before any stage reads it:
// behind the gateway undici parses it again (and asserted on `[::1`), and a cache key, a
// redirect or an app reading ctx.headers.host must never see one.

import { isIPv6 } from 'node:net';

/** reg-name (unreserved, pct-encoded, sub-delims) or IPv4, then an optional numeric port. */
const NAME_AND_PORT = /^[A-Za-z0-9\-._~%!$&'()*+,;=]*(?::\d{0,5})?$/;
const LITERAL_AND_PORT = /^\[([^\]]+)\](?::\d{0,5})?$/;

/** An empty Host is allowed (a target without an authority); a missing one is node's to refuse. */
export function isValidHost(value: string): boolean {
  if (value[0] !== '[') return NAME_AND_PORT.test(value);
  const literal = LITERAL_AND_PORT.exec(value)?.[1];
  return literal !== undefined && isIPv6(literal);
}
