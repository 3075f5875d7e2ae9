// The two endings of a proxied upgrade: the replica switched protocols (101), so its answer is
// passed on and bytes flow both ways untouched; or it answered anything else, so that answer is
// relayed and the client's connection closed — an upgrade without 101 opens no tunnel.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isHopByHop } from './hop-by-hop.ts';

export interface Tunnel {
  readonly client: Duplex;
  readonly upstream: Duplex;
  /** Settles once both sides are closed. */
  readonly closed: Promise<void>;
}

/**
 * Writes the replica's 101 to the client as received (its Upgrade, Connection and
 * Sec-WebSocket-Accept are what the client checks), plus the gateway's affinity cookie when
 * the pool pins clients by one, then joins the sockets. Either side closing or failing closes
 * the other: a half-dead tunnel would hold a replica's socket open.
 */
export function openTunnel(
  client: Duplex,
  clientHead: Buffer,
  response: IncomingMessage,
  upstream: Duplex,
  upstreamHead: Buffer,
  requestId: string,
  setCookie?: string,
): Tunnel {
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  const raw = response.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  if (response.headers['x-request-id'] === undefined) head += `X-Request-Id: ${requestId}\r\n`;
  if (setCookie !== undefined) head += `Set-Cookie: ${setCookie}\r\n`;
  client.write(`${head}\r\n`);
  if (upstreamHead.length > 0) client.write(upstreamHead);
  if (clientHead.length > 0) upstream.write(clientHead);

  const closed = new Promise<void>((resolve) => {
    let open = 2;
    const onClose = () => {
      client.destroy();
      upstream.destroy();
      if (--open === 0) resolve();
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
  });
  upstream.on('error', () => upstream.destroy());
  client.on('error', () => client.destroy());
  // pipe() carries backpressure and a FIN (end) from each side to the other.
  client.pipe(upstream);
  upstream.pipe(client);
  return { client, upstream, closed };
}

/**
 * Relays a replica's refusal (401, 404, 400, ...) with hop-by-hop fields dropped and
 * `Connection: close`: the body then ends where the connection does, whatever framing the
 * replica used, and nothing after it can be taken for a tunnel.
 */
export async function relayRefusal(client: Duplex, response: IncomingMessage, requestId: string): Promise<void> {
  const status = response.statusCode ?? 502;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  const raw = response.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (isHopByHop(lower) || lower === 'x-request-id') continue;
    head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  client.write(`${head}X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`);
  try {
    await pipeline(response, client);
  } catch {
    client.destroy();
  }
}
