// The header list a replica receives: the client's headers minus hop-by-hop ones, then the
// gateway's own (X-Forwarded-*, X-Request-Id). Stripping comes first and ours are added after,
// so `Connection: X-Forwarded-For` from a client removes the client's copy, never ours.
//
// Built as a flat [name, value, ...] array from req.rawHeaders: undici takes it as is, without
// the object node's lazy `req.headers` getter would build and undici would walk again.

import type { IncomingMessage } from 'node:http';
import { peerAddress, schemeOf, type TrustedProxies } from './forwarded.ts';
import { connectionOptions, isHopByHop } from './hop-by-hop.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

/**
 * Set by the gateway alone. `forwarded` (RFC 7239) is dropped rather than kept half-true:
 * cleave speaks X-Forwarded-*, and a replica must not find a client's claim next to ours.
 * `expect` was already answered by node (100 Continue) and undici refuses to send it.
 */
const GATEWAY_OWNED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'forwarded',
]);

export interface UpstreamHeaderOptions {
  requestId: string;
  trustedProxies: TrustedProxies;
  /** Add the peer's address to X-Forwarded-For; not when the peer is another node's gateway (peers.ts). @default true */
  appendPeer?: boolean;
  /** Keep the upgrade: send `Connection: Upgrade` and the client's `Upgrade` (WebSocket). */
  upgrade?: boolean;
  /** The gateway's span of this request (tracing on): the replica's becomes its child. */
  trace?: TraceCarrier | undefined;
}

/** W3C Trace Context: the gateway's span when it traces, else passed on only from a trusted proxy. */
const TRACE_CONTEXT = new Set(['traceparent', 'tracestate']);

export function upstreamRequestHeaders(req: IncomingMessage, options: UpstreamHeaderOptions): string[] {
  const raw = req.rawHeaders;
  const named = connectionOptions(req.headers.connection);
  const peer = peerAddress(req);
  const trusted = options.trustedProxies.trusts(peer);
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || lower === 'expect' || (named !== undefined && named.includes(lower))) continue;
    if (GATEWAY_OWNED.has(lower)) {
      // Remembered only from a trusted proxy; from anyone else they are simply replaced.
      if (!trusted) continue;
      if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (lower === 'x-forwarded-proto') forwardedProto ??= value;
      else if (lower === 'x-forwarded-host') forwardedHost ??= value;
      continue;
    }
    if (TRACE_CONTEXT.has(lower) && (options.trace !== undefined || !trusted)) continue;
    if (lower === 'host') {
      // undici refuses a second Host; node lets duplicates through, so the first one wins.
      if (host !== undefined) continue;
      host = value;
    }
    out.push(name, value);
  }
  out.push(
    'x-forwarded-for',
    forwardedFor === undefined ? peer : options.appendPeer === false ? forwardedFor : `${forwardedFor}, ${peer}`,
    'x-forwarded-proto',
    forwardedProto ?? schemeOf(req),
  );
  const forwardedHostValue = forwardedHost ?? host;
  if (forwardedHostValue !== undefined) out.push('x-forwarded-host', forwardedHostValue);
  out.push('x-request-id', options.requestId);
  if (options.trace !== undefined) for (const name in options.trace) out.push(name, options.trace[name] as string);
  if (options.upgrade) out.push('connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
  return out;
}
