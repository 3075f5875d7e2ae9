// Turns what a handler returned (or threw) into bytes on the wire. Errors
// become JSON with a stable code and the request id, never a stack trace.
//
// Headers are gathered in a plain object and written once with writeHead:
// node's res.setHeader per header cost ~15% of a small response's throughput
// (bench/pipeline.ts).

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { Reply } from '../app/reply.ts';
import type { ResponseTap } from '../cache/response-cache.ts';
import { INVALIDATE_HEADER } from '../cache/invalidation.ts';
import { CleaveError, InternalError, MethodNotAllowedError, RateLimitedError } from '../errors.ts';
import { DECLINED_HEADER } from '../upstream/remote-nodes.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
const KEPT_ON_ERROR = new Set(['connection', 'strict-transport-security', INVALIDATE_HEADER, DECLINED_HEADER]);
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** Response headers of one request, keys in lower case, written by writeHead. */
export type HeaderBag = OutgoingHttpHeaders;

/** `tap`: the response cache watching this response go out, when it may store it. */
export async function sendResult(
  res: ServerResponse,
  result: unknown,
  headers: HeaderBag,
  tap?: ResponseTap,
): Promise<void> {
  if (!(result instanceof Reply)) return sendPlain(res, result, headers, tap);
  for (const name in result.headers) headers[name.toLowerCase()] = result.headers[name];
  const { body } = result;
  switch (body.kind) {
    case 'empty':
      return writeEmpty(res, result.status, headers, tap);
    case 'json':
      return writeWhole(res, result.status, headers, JSON_TYPE, JSON.stringify(body.value), tap);
    case 'text':
      return writeWhole(res, result.status, headers, TEXT_TYPE, body.value, tap);
    case 'stream':
      tap?.abandon();
      return writeStream(res, result.status, headers, body.value);
  }
}

/** The status a handler's result answers with. */
export function statusOf(result: unknown): number {
  if (result instanceof Reply) return result.status;
  return result === undefined || result === null ? 204 : 200;
}

/** A handler's plain return value: object → JSON, string → text, stream → piped, nothing → 204. */
async function sendPlain(res: ServerResponse, result: unknown, headers: HeaderBag, tap?: ResponseTap): Promise<void> {
  if (result === undefined || result === null) return writeEmpty(res, 204, headers, tap);
  if (typeof result === 'string') return writeWhole(res, 200, headers, TEXT_TYPE, result, tap);
  if (result instanceof Readable || result instanceof ReadableStream) {
    tap?.abandon();
    return writeStream(res, 200, headers, result);
  }
  writeWhole(res, 200, headers, JSON_TYPE, JSON.stringify(result), tap);
}

function writeEmpty(res: ServerResponse, status: number, headers: HeaderBag, tap?: ResponseTap): void {
  if (tap) {
    tap.head(status, headers);
    tap.end();
  }
  res.writeHead(status, headers).end();
}

function writeWhole(
  res: ServerResponse,
  status: number,
  headers: HeaderBag,
  type: string,
  text: string,
  tap?: ResponseTap,
): void {
  headers['content-type'] ??= type;
  headers['content-length'] = Buffer.byteLength(text);
  if (tap) {
    tap.head(status, headers);
    tap.data(text);
    tap.end();
  }
  res.writeHead(status, headers).end(text);
}

async function writeStream(
  res: ServerResponse,
  status: number,
  headers: HeaderBag,
  stream: Readable | ReadableStream<Uint8Array>,
): Promise<void> {
  headers['content-type'] ??= 'application/octet-stream';
  res.writeHead(status, headers);
  const source = stream instanceof ReadableStream ? Readable.fromWeb(stream as never) : stream;
  await pipeline(source, res);
}

/** Answers with the error's JSON; logs unexpected ones with their stack. */
export function sendError(
  res: ServerResponse,
  error: unknown,
  requestId: string,
  log: Logger,
  tap?: ResponseTap,
): void {
  const known = error instanceof CleaveError ? error : undefined;
  if (res.destroyed && (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') {
    // The client (or the gateway on its behalf) left mid-stream: an aborted request, not a fault.
    log.debug({ requestId }, 'client left before the response was complete');
    return;
  }
  if (!known || known.status >= 500) log.error({ err: error, requestId }, 'request failed');
  if (res.headersSent) {
    // Part of a response is out: the only honest signal left is a cut connection.
    res.destroy();
    return;
  }
  const cleaveError = known ?? new InternalError();
  // Drop whatever a stage set before failing (the static file server sets its own).
  // The rate-limit headers stay (every answer of a limited route says where the client
  // stands), and so do HSTS (every answer over TLS carries it) and a handler's cache
  // invalidations (they happened, whatever the handler did next).
  for (const name of res.getHeaderNames()) {
    if (!KEPT_ON_ERROR.has(name) && !name.startsWith('x-ratelimit-')) {
      res.removeHeader(name);
    }
  }
  const headers: HeaderBag = { 'x-request-id': requestId };
  if (cleaveError instanceof MethodNotAllowedError) headers.allow = cleaveError.allow.join(', ');
  if (cleaveError.retryAfterSeconds !== undefined) headers['retry-after'] = String(cleaveError.retryAfterSeconds);
  if (cleaveError instanceof RateLimitedError && cleaveError.limit !== undefined) {
    headers['x-ratelimit-limit'] = String(cleaveError.limit);
    headers['x-ratelimit-remaining'] = '0';
    headers['x-ratelimit-reset'] = String(cleaveError.retryAfterSeconds);
  }
  const body = cleaveError.toJSON();
  writeWhole(res, cleaveError.status, headers, JSON_TYPE, JSON.stringify({ error: { ...body.error, requestId } }), tap);
}
