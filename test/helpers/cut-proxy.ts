// A TCP proxy a test can cut and restore: the server behind it stays up, but to the client it
// is gone (connections reset, new ones refused) until restored on the same port. How a test
// loses PostgreSQL, NATS or Redis mid-run without stopping the machine's real server, or
// sees it hang.

import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface CutProxy {
  readonly port: number;
  /** Resets every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /**
   * Holds what clients send (connections stay open, nothing reaches the server): a server
   * that hangs. resume() delivers it, in order, as a slow server would at last.
   */
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

/** `listenOn`: the address clients reach it at (another host's, in a namespace test). */
export async function startCutProxy(target: { host: string; port: number }, listenOn = '127.0.0.1'): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let stalled = false;
  let server: Server | undefined;
  let port = 0;

  const listen = async (): Promise<void> => {
    const listening = createServer((client) => {
      const upstream = createConnection(target);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
      }
      const pair = { client, upstream };
      pairs.add(pair);
      if (!stalled) client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => {
        pairs.delete(pair);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
    });
    listening.listen(port, listenOn);
    await once(listening, 'listening');
    port = (listening.address() as { port: number }).port;
    server = listening;
  };

  const cut = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.resetAndDestroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    cut,
    restore: listen,
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) client.unpipe(upstream);
    },
    resume() {
      stalled = false;
      for (const { client, upstream } of pairs) client.pipe(upstream);
    },
    close: cut,
  };
}

/**
 * A cut proxy in front of the server `serverUrl` names, and that URL with the proxy's port:
 * what a client under test connects to. `defaultPort` for a URL that names none.
 */
export async function cutProxyFor(serverUrl: string, defaultPort: number): Promise<{ proxy: CutProxy; url: string }> {
  const target = new URL(serverUrl);
  const proxy = await startCutProxy({ host: target.hostname, port: Number(target.port || defaultPort) });
  const url = new URL(serverUrl);
  url.port = String(proxy.port);
  return { proxy, url: url.href };
}
