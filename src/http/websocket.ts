// WebSocket routes on top of `ws`. Each socket route gets its own
// WebSocketServer so its frame limit is enforced by ws while parsing, before
// a byte of an oversized frame reaches the handler.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { loadOnUse } from '../shared/load-on-use.ts';
import type { RequestContext, ServiceContext } from '../app/context.ts';
import type { CleaveSocket, SocketDefinition } from '../app/socket.ts';
import type { Bus } from '../bus/types.ts';
import {
  BadRequestError,
  type CleaveError,
  RouteNotFoundError,
  ShuttingDownError,
  UnauthorizedError,
} from '../errors.ts';
import type { Authenticator } from './auth.ts';
import { normalizeTarget } from './path.ts';
import { writeRawError } from './raw-error.ts';
import { HttpRequestContext } from './request-context.ts';
import { requestIdOf } from './request-id.ts';
import type { Router } from './router.ts';

const DEFAULT_MAX_PAYLOAD = 64 * 1024;
const HEARTBEAT_MS = 30_000;
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_INTERNAL_ERROR = 1011;

export interface SocketHubOptions {
  router: Router;
  auth: Authenticator;
  bus: Bus;
  log: Logger;
  contextFor(service: string): ServiceContext;
}

export class SocketHub {
  private readonly servers = new Map<SocketDefinition, WebSocketServer>();
  private readonly open = new Set<WebSocket>();
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;

  private readonly options: SocketHubOptions;

  constructor(options: SocketHubOptions) {
    this.options = options;
    // A peer that vanished without a FIN (laptop lid closed) is found by a
    // missed pong and dropped, so its subscriptions don't pile up.
    this.heartbeat = setInterval(() => this.checkHeartbeats(), HEARTBEAT_MS).unref();
  }

  get size(): number {
    return this.open.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.closing) return refuse(socket, new ShuttingDownError('server is shutting down'));
    let path: string;
    try {
      path = normalizeTarget(req.url ?? '').path;
    } catch {
      return refuse(socket, new BadRequestError('malformed request target'));
    }
    const match = this.options.router.matchSocket(path);
    if (!match) return refuse(socket, new RouteNotFoundError(`no socket route at ${path}`));
    this.accept({ req, socket, head, definition: match.socket, params: match.params, path }).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'websocket upgrade failed');
      socket.destroy();
    });
  }

  /** Closes every socket with 1001 and waits (bounded) for the closing handshakes. */
  async stop(graceMs = 2000): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    const closed = [...this.open].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(CLOSE_GOING_AWAY, 'server shutting down');
        }),
    );
    const timer = setTimeout(() => {
      for (const ws of this.open) ws.terminate();
    }, graceMs);
    await Promise.all(closed);
    clearTimeout(timer);
    for (const server of this.servers.values()) server.close();
  }

  private async accept(upgrade: Upgrade): Promise<void> {
    const { req, socket, head, definition, params, path } = upgrade;
    const { auth, log } = this.options;
    const token = auth.tokenOf(req);
    const user = token === undefined ? undefined : await auth.verify(token);
    if (definition.options.auth && !user) return refuse(socket, new UnauthorizedError());
    if (socket.destroyed) return;
    const requestId = requestIdOf(req.headers['x-request-id']);
    const ctx = new HttpRequestContext(this.options.contextFor(definition.service), {
      auth,
      req,
      path,
      params,
      query: Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams),
      body: undefined,
      requestId,
      user,
      log: log.child({ socket: definition.path }),
    });
    this.serverFor(definition).handleUpgrade(req, socket, head, (ws) =>
      this.attach(ws, definition, ctx as RequestContext),
    );
  }

  private attach(ws: WebSocket, definition: SocketDefinition, ctx: RequestContext): void {
    const { handlers } = definition;
    const unsubscribers: Array<() => void> = [];
    const alive = { value: true };
    aliveness.set(ws, alive);
    this.open.add(ws);
    const socket: CleaveSocket = {
      id: randomUUID(),
      send(data) {
        if (ws.readyState === ws.OPEN) ws.send(typeof data === 'string' ? data : JSON.stringify(data));
      },
      subscribe: (topic, map) => {
        const unsubscribe = this.options.bus.subscribe(topic, (payload) => {
          socket.send(map ? map(payload as never) : { type: topic, data: payload });
        });
        unsubscribers.push(unsubscribe);
        return unsubscribe;
      },
      close(code, reason) {
        ws.close(code, reason);
      },
    };
    const fail = (error: unknown) => {
      ctx.log.error({ err: error }, 'socket handler failed');
      ws.close(CLOSE_INTERNAL_ERROR, 'internal error');
    };
    const guard = (run: () => void | Promise<void>) => {
      try {
        const result = run();
        if (result instanceof Promise) result.catch(fail);
      } catch (error) {
        fail(error);
      }
    };
    ws.on('pong', () => {
      alive.value = true;
    });
    ws.on('error', (error) => ctx.log.warn({ err: error }, 'socket error'));
    ws.on('close', (code, reason) => {
      this.open.delete(ws);
      for (const unsubscribe of unsubscribers) unsubscribe();
      if (handlers.close) guard(() => handlers.close?.(socket, code, reason.toString()));
    });
    for (const [topic, map] of Object.entries(handlers.events ?? {})) {
      socket.subscribe(topic, (payload) => map(payload as never, socket));
    }
    if (handlers.message) {
      ws.on('message', (data, isBinary) => {
        const message = isBinary ? data : parseFrame(rawDataText(data));
        guard(() => handlers.message?.(socket, message, ctx));
      });
    }
    if (handlers.open) guard(() => handlers.open?.(socket, ctx));
  }

  private serverFor(definition: SocketDefinition): WebSocketServer {
    let server = this.servers.get(definition);
    if (!server) {
      server = new (ws().WebSocketServer)({
        noServer: true,
        maxPayload: definition.options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        perMessageDeflate: false,
      });
      this.servers.set(definition, server);
    }
    return server;
  }

  private checkHeartbeats(): void {
    for (const ws of this.open) {
      const alive = aliveness.get(ws);
      if (alive && !alive.value) {
        ws.terminate();
        continue;
      }
      if (alive) alive.value = false;
      ws.ping();
    }
  }
}

interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  definition: SocketDefinition;
  params: Record<string, string>;
  path: string;
}

/** `ws`, loaded when first needed: only services with sockets use it. */
export const ws = loadOnUse<typeof import('ws')>('ws');

const aliveness = new WeakMap<WebSocket, { value: boolean }>();

function rawDataText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function parseFrame(text: string): unknown {
  try {
    return parseUntrustedJson(text);
  } catch {
    return text;
  }
}

/** Answers a refused upgrade with a plain HTTP error and closes: no tunnel opens. */
function refuse(socket: Duplex, error: CleaveError): void {
  writeRawError(socket, error);
}
