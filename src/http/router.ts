// The app's route table: HTTP routes, static folders and WebSocket routes of
// every service. Pure data in, a match out, so the gateway can build the very
// same table in split mode and both sides agree on ownership.

import FindMyWay from 'find-my-way';
import type { App } from '../app/app.ts';
import { HTTP_METHODS, type HttpMethod, type RouteDefinition } from '../app/route.ts';
import type { StaticDefinition } from '../app/service.ts';
import type { SocketDefinition } from '../app/socket.ts';

export type RouteMatch =
  | { kind: 'route'; route: RouteDefinition; params: Record<string, string> }
  | { kind: 'static'; definition: StaticDefinition; relativePath: string }
  | { kind: 'method-not-allowed'; allow: HttpMethod[] }
  | { kind: 'none' };

export interface SocketMatch {
  socket: SocketDefinition;
  params: Record<string, string>;
}

const ROUTER_OPTIONS = { ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 500 } as const;

export class Router {
  private readonly http = FindMyWay(ROUTER_OPTIONS);
  private readonly sockets = FindMyWay(ROUTER_OPTIONS);
  /** Longest prefix first, so '/assets' wins over '/'. */
  private readonly statics: StaticDefinition[];

  constructor(app: App) {
    const noop = () => {};
    for (const service of app.services) {
      for (const route of service.routes) this.http.on(route.method, route.path, noop, route);
      for (const socket of service.sockets) this.sockets.on('GET', socket.path, noop, socket);
    }
    this.statics = app.services.flatMap((service) => service.statics).sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** `path` must already be normalised (http/path.ts). */
  match(method: string, path: string): RouteMatch {
    const found = this.find(method, path);
    if (found) return found;
    if (method === 'GET' || method === 'HEAD') {
      for (const definition of this.statics) {
        const relativePath = stripPrefix(path, definition.prefix);
        if (relativePath !== undefined) return { kind: 'static', definition, relativePath };
      }
    }
    const allow = HTTP_METHODS.filter((other) => other !== method && this.find(other, path));
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'none' };
  }

  matchSocket(path: string): SocketMatch | undefined {
    const found = this.sockets.find('GET', path);
    if (!found) return undefined;
    return { socket: found.store as SocketDefinition, params: found.params as Record<string, string> };
  }

  private find(method: string, path: string): RouteMatch | undefined {
    if (!(HTTP_METHODS as readonly string[]).includes(method)) return undefined;
    let found = this.http.find(method as HttpMethod, path);
    // HEAD is GET without a body (RFC 9110 §9.3.2); node drops the body for us.
    if (!found && method === 'HEAD') found = this.http.find('GET', path);
    if (!found) return undefined;
    return { kind: 'route', route: found.store as RouteDefinition, params: found.params as Record<string, string> };
  }
}

function stripPrefix(path: string, prefix: string): string | undefined {
  if (prefix === '/') return path;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
}
