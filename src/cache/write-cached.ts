// Answers a request from a stored response: its status, headers and body as stored, with this
// request's id, `Age` (seconds since the origin made it) and `X-Cache: HIT`. A request whose
// If-None-Match names the stored ETag gets a 304 without the body.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { CachedResponse } from './response-cache.ts';

export function writeCached(req: IncomingMessage, res: ServerResponse, entry: CachedResponse, requestId: string): void {
  const headers: OutgoingHttpHeaders = {
    ...entry.headers,
    age: String(entry.age + Math.floor((Date.now() - entry.storedAt) / 1000)),
    'x-cache': 'HIT',
    'x-request-id': requestId,
  };
  const etag = entry.headers.etag;
  if (entry.status === 200 && typeof etag === 'string' && matchesEtag(req.headers['if-none-match'], etag)) {
    delete headers['content-length'];
    res.writeHead(304, headers).end();
    return;
  }
  // Node sends no body for HEAD, whatever end() is given.
  res.writeHead(entry.status, headers).end(entry.body);
}

/** Weak comparison (RFC 9110 §13.1.2), as If-None-Match asks. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const candidate of header.split(',')) {
    const trimmed = candidate.trim();
    if (trimmed === '*' || (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === opaque) return true;
  }
  return false;
}
