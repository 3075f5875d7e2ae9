// An app's route table as Gateway API HTTPRoute matches, so a cluster's own gateway (Envoy,
// Istio, any Gateway API implementation) can send each request straight to the pods of its
// service. A pattern's static part becomes the path: a route with no parameter an `Exact`
// match, one with a parameter or wildcard a `PathPrefix` of the segments before it (which
// may match more than the route: the service's own router then answers 404 or 405, as it
// would behind cleave's gateway). Matching by longest prefix, as Gateway API does, agrees
// with cleave's router, where a static segment beats a parameter; two services claiming
// the same path for the same method cannot be told apart, so the export refuses them.

import type { App } from '../app/app.ts';
import { ExportError } from '../errors.ts';

export interface RouteMatch {
  path: { type: 'Exact' | 'PathPrefix'; value: string };
  method?: string;
}

/** Every request a service answers, as matches; none for a service with no routes. */
export function routeMatchesOf(app: App): Map<string, RouteMatch[]> {
  const byService = new Map<string, RouteMatch[]>();
  const owner = new Map<string, string>();
  const add = (service: string, match: RouteMatch) => {
    const key = `${match.method ?? '*'} ${match.path.type} ${match.path.value}`;
    const claimed = owner.get(key);
    if (claimed !== undefined && claimed !== service) {
      throw new ExportError(
        `${claimed} and ${service} both claim ${match.method ?? 'every method'} ${match.path.value}${match.path.type === 'PathPrefix' ? '…' : ''}: a path-routing gateway cannot tell them apart`,
      );
    }
    if (claimed === service) return;
    owner.set(key, service);
    let matches = byService.get(service);
    if (!matches) byService.set(service, (matches = []));
    matches.push(match);
  };
  for (const service of app.services) {
    for (const route of service.routes) {
      add(service.name, { path: pathOf(route.path), method: route.method });
      // cleave answers HEAD with a GET route, as HTTP says; a gateway matches methods exactly.
      if (route.method === 'GET') add(service.name, { path: pathOf(route.path), method: 'HEAD' });
    }
    for (const folder of service.statics) {
      const prefix = { type: 'PathPrefix' as const, value: trimSlash(folder.prefix) };
      add(service.name, { path: prefix, method: 'GET' });
      add(service.name, { path: prefix, method: 'HEAD' });
    }
    for (const socket of service.sockets) add(service.name, { path: pathOf(socket.path), method: 'GET' });
  }
  return byService;
}

/** `/api/posts` → Exact; `/api/posts/:id`, `/files/*` → PathPrefix `/api/posts`, `/files`. */
function pathOf(pattern: string): RouteMatch['path'] {
  const segments = pattern.split('/');
  const dynamic = segments.findIndex((segment) => segment.includes(':') || segment.includes('*'));
  if (dynamic < 0) return { type: 'Exact', value: pattern };
  return { type: 'PathPrefix', value: trimSlash(segments.slice(0, dynamic).join('/')) };
}

function trimSlash(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}
