// The supervisor's admin endpoint: `GET /status` as JSON on a unix socket whose path is
// derived from the public port, so `cleave status` finds the supervisor serving PORT with no
// other configuration. A unix socket rather than a loopback port: it takes no port, and its
// file mode (0600) keeps it to the user who started the app.

import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppStatus } from './status.ts';

/** Where the supervisor serving `port` answers: the same path for the CLI and the server. */
export function adminSocketPath(port: number): string {
  return join(tmpdir(), `cleave-${port}.sock`);
}

export class AdminServer {
  readonly path: string;
  readonly #server: Server;

  constructor(port: number, status: () => AppStatus) {
    this.path = adminSocketPath(port);
    this.#server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/status') {
        const body = JSON.stringify(status());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"CLEAVE_ROUTE_NOT_FOUND"}}');
    });
  }

  async listen(): Promise<void> {
    // Left by a supervisor that was killed: the port is ours now, so is its socket.
    await rm(this.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.path, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.path, 0o600);
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await rm(this.path, { force: true });
  }
}
