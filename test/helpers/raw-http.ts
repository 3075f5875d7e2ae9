// Sends bytes exactly as written (fetch would fix malformed requests for us)
// and collects everything until the server closes or the time is up, or, with
// `oneResponse`, until one whole response (head and Content-Length body) is in.

import { connect } from 'node:net';

export interface RawResponse {
  text: string;
  status: number;
  /** True when the server closed the connection. */
  closed: boolean;
}

export function rawRequest(
  port: number,
  bytes: string | Buffer,
  timeoutMs = 3000,
  options: { oneResponse?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    function finish() {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ text, status, closed });
    }
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (options.oneResponse && isComplete(Buffer.concat(chunks))) finish();
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) finish();
      else reject(error);
    });
    socket.write(bytes);
  });
}

/** A head, and as many body bytes as its Content-Length says. */
function isComplete(received: Buffer): boolean {
  const headEnd = received.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, headEnd).toString('latin1'))?.[1];
  return length !== undefined && received.length - headEnd - 4 >= Number(length);
}
