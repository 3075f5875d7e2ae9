// Reads and parses a request body within a byte limit. The limit is checked
// against Content-Length before reading and again while streaming, so a lying
// or absent Content-Length can't push a replica past it.

import type { IncomingMessage } from 'node:http';
import secureJson from 'secure-json-parse';
import { BodyTooLargeError, ClientClosedError, InvalidJsonError, UnsupportedMediaTypeError } from '../errors.ts';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyTooLargeError(limit));
  // Listeners rather than `for await`: leaving that loop early destroys the request, and with it
  // the connection, before the 413 is written. Stopped here, the rest of the body is read off by
  // the response (early-answer.ts).
  // Earlier stages (sign-in, rate limit) await: the client may have left, or the body may have
  // been read off, before this looks. Neither 'close' nor 'end' would come again.
  if (req.destroyed || req.readableAborted) {
    return Promise.reject(new ClientClosedError('the client closed the connection before its body was complete'));
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stop();
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      stop();
      // "aborted" (ECONNRESET): the client's doing, not the app's.
      reject(
        error.code === 'ECONNRESET'
          ? new ClientClosedError('the client closed the connection', { cause: error })
          : error,
      );
    };
    // Closed without an end: the client went away mid-body.
    const onClose = (): void => {
      stop();
      reject(new ClientClosedError('the client closed the connection before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** True when the request announces a body (RFC 9112 §6.3). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * JSON (application/json, *+json) becomes a value, with `__proto__` and
 * `constructor.prototype` keys refused so a body can't poison prototypes;
 * urlencoded forms become an object; text/* a string. Anything else is 415.
 */
export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return secureJson.parse(raw.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      throw new InvalidJsonError(`request body is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  }
  if (type.startsWith('text/')) return raw.toString('utf8');
  throw new UnsupportedMediaTypeError(
    `unsupported content type "${type || '(none)'}"; send application/json, a urlencoded form or text`,
  );
}
