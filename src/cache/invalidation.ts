// Invalidation by event: each route's `cache.invalidatedBy` topics drop that route's entries,
// and ctx.invalidate() publishes paths and prefixes on one internal topic. The cache subscribes
// on whatever bus reaches it: the process's own when together, the gateway's IPC channel to
// the supervisor's hub when split, so an event from any replica reaches it.

import type { App } from '../app/app.ts';
import type { Bus } from '../bus/types.ts';
import type { ResponseCache } from './response-cache.ts';
import { routeKeyOf } from './response-cache.ts';

/** Where ctx.invalidate() publishes: `{ targets: ['/api/posts', '/api/users/*'] }`. */
export const INVALIDATE_TOPIC = 'cleave.cache.invalidate';

/**
 * A replica's response header naming the targets its handler invalidated (URI-encoded, comma
 * separated): the gateway drops them before relaying the response, and never relays the header.
 */
export const INVALIDATE_HEADER = 'x-cleave-invalidate';

/** The targets an INVALIDATE_HEADER value names. */
export function targetsOfHeader(value: string | string[]): string[] {
  const targets: string[] = [];
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    try {
      const target = decodeURIComponent(part.trim());
      if (target.startsWith('/')) targets.push(target);
    } catch {
      // Not what a replica writes: ignored.
    }
  }
  return targets;
}

export interface InvalidateMessage {
  targets: string[];
}

/** Subscribes `cache` to every topic that drops some of its entries; returns the unsubscriber. */
export function subscribeInvalidations(cache: ResponseCache, bus: Bus, app: App): () => void {
  const routesByTopic = new Map<string, string[]>();
  for (const service of app.services) {
    for (const route of service.routes) {
      for (const topic of route.options.cache?.invalidatedBy ?? []) {
        routesByTopic.set(topic, [...(routesByTopic.get(topic) ?? []), routeKeyOf(route)]);
      }
    }
  }
  const unsubscribers = [...routesByTopic].map(([topic, routes]) =>
    bus.subscribe(topic, () => {
      for (const route of routes) cache.invalidateRoute(route);
    }),
  );
  unsubscribers.push(
    bus.subscribe(INVALIDATE_TOPIC, (payload) => {
      const { targets } = payload as Partial<InvalidateMessage>;
      if (Array.isArray(targets)) cache.invalidate(targets.filter((target) => typeof target === 'string'));
    }),
  );
  return () => {
    for (const unsubscribe of unsubscribers) unsubscribe();
  };
}

/** ctx.invalidate()'s argument check: paths as the router sees them, or a prefix ending in `*`. */
export function checkInvalidateTargets(targets: readonly string[]): void {
  for (const target of targets) {
    if (typeof target !== 'string' || !target.startsWith('/')) {
      throw new TypeError(
        `invalidate: "${String(target)}" is not a path (it starts with "/"; end it with "*" for a prefix)`,
      );
    }
  }
}
