// An error answered straight onto a socket, for the places node's HTTP layer
// hands us no ServerResponse (parse errors, refused upgrades). The connection
// always closes after it: its framing can't be trusted.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CleaveError } from '../errors.ts';

export function writeRawError(socket: Duplex, error: CleaveError): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(error.toJSON());
  // end() sends our FIN; a client that never sends its own would hold the socket open for good
  // (node's HTTP server allows half-open sockets), so it is cut after a short linger.
  const linger = setTimeout(() => socket.destroy(), RAW_ERROR_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      `Connection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** How long a connection answered here may stay half-open before it is cut. */
const RAW_ERROR_LINGER_MS = 2000;
