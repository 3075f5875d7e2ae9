// An app is a named list of services plus its typed config. defineApp checks
// the whole definition once, so a clash is a start-up error, not a 3 a.m. one.

import { AppDefinitionError } from '../errors.ts';
import { RESERVED_PREFIX } from '../http/health-endpoint.ts';
import type { RateLimitOptions } from '../ratelimit/policy.ts';
import type { Config, ConfigSpec } from '../config/config.ts';
import type { Service } from './service.ts';
import type { TaskDefinition } from './task.ts';

export interface AppOptions {
  name: string;
  services: Service[];
  /** Environment variables the app reads, validated before anything starts. */
  config?: Config<ConfigSpec>;
  /**
   * Most replicas all the app's pools may run together when split (CLEAVE_REPLICA_BUDGET
   * overrides it). @default the sum of the pools' mins plus one per core
   */
  replicaBudget?: number;
  /** Limits for every route that sets none of its own (counted across all of them). */
  rateLimit?: RateLimitOptions;
}

export interface App {
  readonly name: string;
  readonly services: readonly Service[];
  readonly config: Config<ConfigSpec> | undefined;
  readonly replicaBudget: number | undefined;
  readonly rateLimit: RateLimitOptions | undefined;
}

export function defineApp(options: AppOptions): App {
  const names = new Set<string>();
  for (const service of options.services) {
    if (names.has(service.name)) throw new AppDefinitionError(`service "${service.name}" is listed twice`);
    names.add(service.name);
  }
  const routes = new Map<string, string>();
  for (const service of options.services) {
    for (const route of service.routes) {
      if (route.path.startsWith(RESERVED_PREFIX)) {
        throw new AppDefinitionError(`${route.method} ${route.path}: paths under ${RESERVED_PREFIX} are cleave's own`);
      }
      const key = `${route.method} ${route.path.replace(/:[^/]+/g, ':')}`;
      const owner = routes.get(key);
      if (owner) {
        throw new AppDefinitionError(`${route.method} ${route.path} is declared by both ${owner} and ${service.name}`);
      }
      routes.set(key, service.name);
    }
  }
  const sockets = new Map<string, string>();
  const statics = new Map<string, string>();
  for (const service of options.services) {
    for (const socket of service.sockets) {
      const key = socket.path.replace(/:[^/]+/g, ':');
      const owner = sockets.get(key);
      if (owner) throw new AppDefinitionError(`socket ${socket.path} is declared by both ${owner} and ${service.name}`);
      sockets.set(key, service.name);
    }
    for (const folder of service.statics) {
      const owner = statics.get(folder.prefix);
      if (owner) {
        throw new AppDefinitionError(
          `static files at ${folder.prefix} are declared by both ${owner} and ${service.name}`,
        );
      }
      statics.set(folder.prefix, service.name);
    }
  }
  const budget = options.replicaBudget;
  if (budget !== undefined && !(Number.isInteger(budget) && budget >= 1)) {
    throw new AppDefinitionError(`replicaBudget must be a positive whole number, got ${budget}`);
  }
  return Object.freeze({
    name: options.name,
    services: Object.freeze([...options.services]),
    config: options.config,
    replicaBudget: budget,
    rateLimit: options.rateLimit,
  });
}

/** Finds a task by its id, 'service.name'. */
export function findTask(app: App, id: string): TaskDefinition | undefined {
  const dot = id.indexOf('.');
  if (dot < 0) return undefined;
  const service = app.services.find((candidate) => candidate.name === id.slice(0, dot));
  return service?.tasks.get(id.slice(dot + 1));
}

export function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && 'services' in value && Array.isArray((value as App).services);
}
