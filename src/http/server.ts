// The listening socket: limits and timeouts at accept, malformed HTTP answered
// and closed, WebSocket upgrades handed to the hub, and a graceful stop that
// finishes in-flight requests before closing connections.

import { rm } from 'node:fs/promises';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  BadRequestError,
  type CleaveError,
  HeadersTooLargeError,
  ListenFailedError,
  RequestTimeoutError,
  UriTooLongError,
} from '../errors.ts';
import { ConnectionDrain } from './connection-drain.ts';
import { EarlyAnswerResponse } from './early-answer.ts';
import { answerHealthProbe, isHealthProbe } from './health-endpoint.ts';
import { isValidHost } from './host.ts';
import { InFlightMeter } from '../observability/in-flight.ts';
import { secureOptions, type TlsSettings } from './tls.ts';
import { writeRawError } from './raw-error.ts';
import type { RequestPipeline } from './request-handler.ts';
import type { Duplex } from 'node:stream';

/** Whatever answers `upgrade` requests on this server. */
export interface UpgradeHandler {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes its sockets, politely within `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export interface HttpServerOptions {
  pipeline: RequestPipeline;
  /** Takes WebSocket upgrades and is closed (1001) on stop: the SocketHub, or the gateway's upgrade proxy. */
  hub: UpgradeHandler;
  log: Logger;
  /** Where to listen: a TCP port (and host), or a unix socket path (a split-mode replica). */
  listen: ListenTarget;
  /** Time allowed to receive the whole header section (slowloris bound). @default 10000 */
  headersTimeoutMs?: number;
  /** Time allowed to receive a whole request, body included. @default 30000 */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections close after this. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Largest header section; over it the answer is 431. @default 16384 */
  maxHeaderSize?: number;
  /** Longest request target; over it the answer is 414. @default 8192 */
  maxUrlLength?: number;
  /** Serve HTTPS with this certificate (http/tls.ts). @default plain HTTP */
  tls?: TlsSettings;
  /** With `tls`: also answer plain HTTP on this port with a 308 to the HTTPS URL. */
  redirectHttpPort?: number;
}

export type ListenTarget =
  { port: number; /** @default '::' (all interfaces, IPv4 and IPv6) */ host?: string } | { path: string };

export class HttpServer {
  private readonly server: Server;
  private readonly meter = new InFlightMeter();
  private draining = false;
  private readonly hsts: boolean;
  private redirect: Server | undefined;
  private readonly drain = new ConnectionDrain();
  private readonly sockets = new Set<Socket>();

  private readonly pipeline: RequestPipeline;
  private readonly hub: UpgradeHandler;
  private readonly log: Logger;

  private readonly options: HttpServerOptions;

  constructor(options: HttpServerOptions) {
    this.options = options;
    this.pipeline = options.pipeline;
    this.hub = options.hub;
    this.log = options.log;
    const { hub } = options;
    const httpOptions = {
      maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      // Node checks those two timeouts only this often (30 s by default): a slowloris client
      // would hold its socket up to that long past its deadline.
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs ?? 10_000),
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // Smuggling defence: refuse a request carrying both Content-Length and
      // Transfer-Encoding instead of guessing which one the client meant.
      insecureHTTPParser: false,
      // Reads off a body its answer left unread, so the client always gets the answer.
      ServerResponse: EarlyAnswerResponse,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    // An https.Server is an http.Server over TLS sockets: everything below works on both.
    this.server = options.tls
      ? createHttpsServer(
          // A client that opens TCP and never says hello is held no longer than one that never
          // finishes its headers (node's own bound is two minutes).
          { ...httpOptions, handshakeTimeout: httpOptions.headersTimeout, ...secureOptions(options.tls) },
          onRequest,
        )
      : createServer(httpOptions, onRequest);
    this.hsts = options.tls?.hsts ?? false;
    this.server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => this.drain.opened(socket));
    // Every TCP connection, whatever became of it (a TLS handshake under way, a refused upgrade,
    // a WebSocket): what node's closeAllConnections() does not know is cut at the end of a stop.
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.drain.forget(socket);
      // An upgrade is a request too: refused for the same reasons, before the hub sees it.
      const refusal = this.refusalOf(req);
      if (refusal) return writeRawError(socket, refusal);
      hub.handleUpgrade(req, socket, head);
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket));
  }

  /** The bound address: a TCP AddressInfo, or the socket path. */
  async listen(): Promise<AddressInfo | string> {
    const target = this.options.listen;
    // A socket file left by a replica that was SIGKILLed would make listen fail with EADDRINUSE.
    if ('path' in target) await rm(target.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) => reject(listenFailed(target, error));
      this.server.once('error', failed);
      const done = () => {
        this.server.off('error', failed);
        resolve();
      };
      if ('path' in target) this.server.listen(target.path, done);
      else this.server.listen(target.port, target.host ?? '::', done);
    });
    const address = this.server.address() as AddressInfo | string;
    const redirectPort = this.options.redirectHttpPort;
    if (this.options.tls && redirectPort !== undefined && typeof address === 'object' && !('path' in target)) {
      this.redirect = await listenRedirect(redirectPort, target.host ?? '::', address.port);
    }
    return address;
  }

  get requestsInFlight(): number {
    return this.meter.current;
  }

  /** The time-weighted mean of requests in flight since the last call (the autoscaler's signal). */
  takeMeanInFlight(): number {
    return this.meter.takeMean();
  }

  private countInFlight(change: 1 | -1): void {
    this.meter.change(change);
  }

  /**
   * Stops accepting, lets in-flight requests finish and keep-alive connections close between
   * two requests (connection-drain.ts), up to `graceMs`; closes WebSockets with 1001; then
   * cuts whatever is left.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.server.listening) return;
    this.draining = true;
    // net's close, not http's: http's also closes every connection it deems idle at once,
    // and one may be carrying a request the kernel holds but node has not read yet.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(this.server, () => resolve()));
    this.drain.start();
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
    try {
      await Promise.all([this.hub.stop(Math.min(graceMs, 2000)), Promise.race([closed, graceOver])]);
    } finally {
      clearTimeout(graceTimer);
      this.drain.stop();
    }
    if (this.meter.current > 0)
      this.log.warn({ inFlight: this.meter.current }, 'grace period over; cutting requests still in flight');
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    // Now http's own close, for what it tidies (its timeout sweep); the listener is long closed.
    this.server.close(() => {});
    if (this.redirect) {
      const redirect = this.redirect;
      await new Promise<void>((resolve) => redirect.close(() => resolve()));
      redirect.closeAllConnections();
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.countInFlight(1);
    // Once draining, tell keep-alive clients to reconnect (elsewhere) for their next request.
    if (this.draining) res.setHeader('connection', 'close');
    if (this.hsts) res.setHeader('strict-transport-security', 'max-age=31536000; includeSubDomains');
    const socket = req.socket;
    this.drain.requestStarted(socket);
    // One listener per request does every job: each listener costs measurably (bench/pipeline.ts).
    res.on('close', () => {
      this.countInFlight(-1);
      this.drain.requestEnded(socket);
      this.pipeline.closed(req, res);
    });
    if (isHealthProbe(req)) return answerHealthProbe(req, res, this.draining);
    const refusal = this.refusalOf(req);
    if (refusal) return refuse(res, refusal);
    this.pipeline.handle(req, res);
  }

  /**
   * What Node's parser lets through and no stage should see: a target past the URL limit
   * (the header limit is twice as large, so a long URL would otherwise pass); a
   * Transfer-Encoding other than plain `chunked`, whose body length can't be known (RFC 9112
   * §6.3: 400 and close), before the gateway passes its headers on; two Host headers,
   * which name two different sites to whoever reads the other one, and a Host outside its
   * grammar (http/host.ts).
   */
  private refusalOf(req: IncomingMessage): CleaveError | undefined {
    if ((req.url?.length ?? 0) > (this.options.maxUrlLength ?? 8192)) {
      return new UriTooLongError('request target too long');
    }
    const transferEncoding = req.headers['transfer-encoding'];
    if (transferEncoding !== undefined && transferEncoding.toLowerCase() !== 'chunked') {
      return new BadRequestError('only Transfer-Encoding: chunked is accepted');
    }
    let hosts = 0;
    for (let index = 0; index < req.rawHeaders.length; index += 2) {
      if (req.rawHeaders[index]?.length === 4 && req.rawHeaders[index]?.toLowerCase() === 'host') hosts++;
    }
    if (hosts > 1) return new BadRequestError('more than one Host header');
    const host = req.headers.host;
    return host === undefined || isValidHost(host) ? undefined : new BadRequestError('malformed Host header');
  }
}

/** Plain HTTP on `port` that sends every request to the same path over HTTPS on `httpsPort`. */
async function listenRedirect(port: number, host: string, httpsPort: number): Promise<Server> {
  const redirect = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    // The Host header without its port; a missing or odd one falls back to localhost.
    const name = /^[a-z0-9.-]+|^\[[0-9a-f:.]+\]/i.exec(req.headers.host ?? '')?.[0] ?? 'localhost';
    const location = `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url ?? '/'}`;
    res.writeHead(308, { location, 'content-length': 0, connection: 'close' }).end();
  });
  await new Promise<void>((resolve, reject) => {
    redirect.once('error', (error: NodeJS.ErrnoException) => reject(listenFailed({ port, host }, error)));
    redirect.listen(port, host, () => resolve());
  });
  return redirect;
}

/** A refused request gets a short JSON answer on a connection that then closes. */
function refuse(res: ServerResponse, error: CleaveError): void {
  const body = JSON.stringify(error.toJSON());
  res.shouldKeepAlive = false;
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

function listenFailed(target: ListenTarget, error: NodeJS.ErrnoException): ListenFailedError {
  const where = 'path' in target ? target.path : `port ${target.port}${target.host ? ` on ${target.host}` : ''}`;
  const why =
    error.code === 'EADDRINUSE'
      ? 'is in use by another process (set PORT or --port to another one)'
      : error.code === 'EACCES'
        ? 'needs privileges this process lacks (use a port above 1023)'
        : `cannot be bound: ${error.message}`;
  return new ListenFailedError(`${where} ${why}`, { cause: error });
}

function clientErrorOf(error: NodeJS.ErrnoException): CleaveError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HeadersTooLargeError('request header section too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return new RequestTimeoutError('request not received in time');
    default:
      return new BadRequestError('malformed HTTP request');
  }
}

/** Malformed HTTP: a short JSON answer, then the connection is closed, since its framing can't be trusted. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
    socket.destroy();
    return;
  }
  writeRawError(socket, clientErrorOf(error));
}
