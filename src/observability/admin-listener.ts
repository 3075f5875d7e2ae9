// The admin listener: what operators and their tools read, on a port of its own that is never
// the public one (CLEAVE_ADMIN_HOST, 127.0.0.1 by default, and CLEAVE_ADMIN_PORT). Today it
// serves `GET /metrics`, the Prometheus exposition of every process of this node, and the live
// dashboard (`/dashboard`, dashboard.ts).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError, MethodNotAllowedError, RouteNotFoundError } from '../errors.ts';
import { sendError } from '../http/respond.ts';
import { requestIdOf } from '../http/request-id.ts';
import type { Dashboard } from './dashboard.ts';

export interface AdminListenerOptions {
  host: string;
  port: number;
  log: Logger;
  /** The exposition `GET /metrics` answers. */
  metrics: () => Promise<{ contentType: string; text: string }>;
  /** The live dashboard: started with the listener, stopped with it. */
  dashboard?: Dashboard;
}

/** `http://127.0.0.1:9464`, `http://[::1]:9464`: where a listener at `address` is reached. */
export function urlOf(address: AddressInfo): string {
  return address.family === 'IPv6'
    ? `http://[${address.address}]:${address.port}`
    : `http://${address.address}:${address.port}`;
}

export class AdminListener {
  readonly #options: AdminListenerOptions;
  readonly #server: Server;

  constructor(options: AdminListenerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      const requestId = requestIdOf(req.headers['x-request-id']);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const { dashboard } = options;
      if (path !== '/metrics' && !dashboard?.serves(path)) {
        return sendError(res, new RouteNotFoundError(`no admin page at ${path}`), requestId, options.log);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, new MethodNotAllowedError(['GET', 'HEAD']), requestId, options.log);
      }
      if (path !== '/metrics') {
        return void dashboard
          ?.answer(req, res, path)
          .catch((error: unknown) => sendError(res, error, requestId, options.log));
      }
      options.metrics().then(
        ({ contentType, text }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => sendError(res, error, requestId, options.log),
      );
    });
  }

  /** Its address once it listens; `port` 0 takes any free one. */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      const refused = (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE' || error.code === 'EADDRNOTAVAIL' || error.code === 'EACCES'
            ? new ConfigError('CLEAVE_ADMIN_PORT', `cannot listen on ${host}:${port} (${error.code})`)
            : error,
        );
      this.#server.once('error', refused);
      this.#server.listen(port, host, () => {
        this.#server.off('error', refused);
        resolve();
      });
    });
    this.#options.dashboard?.start();
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.#options.dashboard?.stop();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
