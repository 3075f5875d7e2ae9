// An answer that leaves before its request's body was read (413 on a declared size, 401 before
// an auth route reads anything, a 502 from the gateway) must still reach the client, and a
// connection it says it keeps must stay usable. Node closes such a connection with unread
// bytes in the kernel's buffer, which sends a reset: the client, still writing, may never read
// the answer, or finds its kept connection dead at the next request.
//
// So every cleave server answers with this ServerResponse: the rest of the body is read off and
// dropped before the answer ends. A rest of known, modest size keeps the connection (as Node's
// own dump does for a body nobody read); anything else (chunked, or more than a few MiB) is
// answered with `Connection: close`, and the close waits until the client has sent what it was
// sending or LINGER_MS has passed — nginx's lingering close.

import { type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { hasBody } from './body.ts';

/** A declared body with at most this much left is read off, and the connection kept. */
export const DISCARD_MAX_BYTES = 4 * 1024 * 1024;

/** The longest a response waits for the client's unread body before it ends anyway. */
export const LINGER_MS = 5000;

type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];
type Callback = () => void;

export class EarlyAnswerResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** end() was called and waits for the body to be read off: a second call does nothing, as node's. */
  #ending = false;

  override writeHead(statusCode: number, statusMessage?: string | Headers, headers?: Headers): this {
    // Node writes `Connection: close` from this flag (unless a header says otherwise).
    if (hasUnreadBody(this.req) && !discardable(this.req)) this.shouldKeepAlive = false;
    // Node sorts out which of its forms this is (message, headers, or both with either undefined).
    return super.writeHead(statusCode, statusMessage as string, headers);
  }

  override end(chunk?: unknown, encoding?: BufferEncoding | Callback, callback?: Callback): this {
    if (this.#ending) return this;
    if (!hasUnreadBody(this.req)) return super.end(chunk as never, encoding as never, callback as never);
    this.#ending = true;
    if (typeof chunk === 'function') {
      callback = chunk as Callback;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      // The whole answer goes out now; only its end waits. Written by end() alone it would have
      // had a Content-Length: keep it, or the client could not tell the answer is complete.
      if (!this.headersSent && !this.hasHeader('content-length') && !this.hasHeader('transfer-encoding')) {
        this.setHeader('content-length', Buffer.byteLength(chunk as string, encoding as BufferEncoding | undefined));
      }
      this.write(chunk, (encoding as BufferEncoding | undefined) ?? 'utf8');
    }
    readOffBody(this.req, () => super.end(callback));
    return this;
  }
}

/** The request declares a body whose last byte has not arrived yet. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  return !req.complete && hasBody(req);
}

/** Small enough to read and drop, so the connection can serve its next request. */
function discardable(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return false;
  return Number(req.headers['content-length']) <= DISCARD_MAX_BYTES;
}

/** Drops what is left of the body, then calls `then` — at the latest after LINGER_MS. */
function readOffBody(req: IncomingMessage, then: () => void): void {
  if (req.destroyed) return then();
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('end', finish);
    req.off('close', finish);
    then();
  };
  const timer = setTimeout(finish, LINGER_MS);
  req.once('end', finish);
  req.once('close', finish);
  // Whoever was reading it stopped (a limit, a refused sign-in): nobody listens now, so
  // flowing mode drops the bytes as they come.
  req.resume();
}
