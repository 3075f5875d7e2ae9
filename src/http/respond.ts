// Turns what a handler returned (or threw) into bytes on the wire. Errors
// become JSON with a stable code and the request id, never a stack trace.

import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type ReplyBody, Reply } from '../app/reply.ts';
import { BodyTooLargeError, CleaveError, InternalError, MethodNotAllowedError } from '../errors.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export async function sendResult(res: ServerResponse, result: unknown): Promise<void> {
  const replyValue = result instanceof Reply ? result : new Reply(bodyOf(result));
  res.statusCode = replyValue.status;
  for (const [name, value] of Object.entries(replyValue.headers)) res.setHeader(name, value);
  await writeBody(res, replyValue.body);
}

function bodyOf(result: unknown): ReplyBody {
  if (result === undefined || result === null) return { kind: 'empty' };
  if (typeof result === 'string') return { kind: 'text', value: result };
  if (result instanceof Readable || result instanceof ReadableStream) return { kind: 'stream', value: result };
  return { kind: 'json', value: result };
}

async function writeBody(res: ServerResponse, body: ReplyBody): Promise<void> {
  switch (body.kind) {
    case 'empty':
      res.end();
      return;
    case 'json':
      writeWhole(res, JSON_TYPE, JSON.stringify(body.value));
      return;
    case 'text':
      writeWhole(res, TEXT_TYPE, body.value);
      return;
    case 'stream': {
      if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/octet-stream');
      const source = body.value instanceof ReadableStream ? Readable.fromWeb(body.value as never) : body.value;
      await pipeline(source, res);
      return;
    }
  }
}

function writeWhole(res: ServerResponse, type: string, text: string): void {
  if (!res.hasHeader('content-type')) res.setHeader('content-type', type);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers with the error's JSON; logs unexpected ones with their stack. */
export function sendError(res: ServerResponse, error: unknown, requestId: string, log: Logger): void {
  const known = error instanceof CleaveError ? error : undefined;
  if (!known || known.status >= 500) log.error({ err: error, requestId }, 'request failed');
  if (res.headersSent) {
    // Part of a response is out: the only honest signal left is a cut connection.
    res.destroy();
    return;
  }
  const cleaveError = known ?? new InternalError();
  for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
  res.statusCode = cleaveError.status;
  if (cleaveError instanceof MethodNotAllowedError) res.setHeader('allow', cleaveError.allow.join(', '));
  // The unread rest of an oversized body can't be trusted as the next request.
  if (cleaveError instanceof BodyTooLargeError) res.setHeader('connection', 'close');
  const body = cleaveError.toJSON();
  writeWhole(res, JSON_TYPE, JSON.stringify({ error: { ...body.error, requestId } }));
}
