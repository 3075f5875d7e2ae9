// A route: method + path pattern + handler, with the options a later stage
// (auth, validation, rate limit, cache) reads. Routes are plain data so the
// gateway can build the same table the replicas use.

import type { RateLimitOptions } from '../ratelimit/policy.ts';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { RequestContext } from './context.ts';
import type { Reply } from './reply.ts';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type HandlerResult = Reply | object | string | undefined | null | void;

/** '/api/posts/:id/comments/:cid' -> { id: string; cid: string } */
export type ParamsOf<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & ParamsOf<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? { [K in Name]: string }
    : Record<never, string>;

export type Infer<S, Fallback> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Fallback;

export interface RouteOptions<
  BodySchema extends StandardSchemaV1 | undefined = undefined,
  QuerySchema extends StandardSchemaV1 | undefined = undefined,
  ParamsSchema extends StandardSchemaV1 | undefined = undefined,
> {
  /** Validates the parsed JSON body; a failure answers 400 with the field errors. */
  body?: BodySchema;
  query?: QuerySchema;
  params?: ParamsSchema;
  /** Answer 401 unless the request carries a valid session or bearer token. @default false */
  auth?: boolean;
  /** Largest accepted request body in bytes; over it the answer is 413. @default 1 MiB */
  bodyLimit?: number;
  /**
   * Longest the handler may take to return; past it the client gets 503
   * (CLEAVE_HANDLER_TIMEOUT) and ctx.signal aborts. Streaming a returned body
   * is not counted. @default 30000
   */
  timeoutMs?: number;
  /**
   * This route's limits: tiers for anonymous and signed-in clients (counted for this route
   * alone), a brute-force guard for a login route, or false for none. Unset: the app's default.
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * Keep this GET route's responses in the gateway's cache (and the monolith's) for `maxAge`
   * seconds, unless the response's own Cache-Control says otherwise. Clients are told nothing:
   * browsers keep no copy that an invalidation could not reach.
   */
  cache?: RouteCacheOptions;
}

export interface RouteCacheOptions {
  /** Seconds a response stays fresh in the cache. */
  maxAge: number;
  /**
   * The response is the same for everyone: served from the cache to requests with cookies or
   * an Authorization header too (otherwise those always reach the handler). @default false
   */
  public?: boolean;
  /** Events that drop every cached response of this route: `['post.created']`. */
  invalidatedBy?: string[];
}

export type RouteHandler<Body, Query, Params> = (
  ctx: RequestContext<Body, Query, Params>,
) => HandlerResult | Promise<HandlerResult>;

export interface RouteDefinition {
  readonly service: string;
  readonly method: HttpMethod;
  readonly path: string;
  readonly options: RouteOptions<
    StandardSchemaV1 | undefined,
    StandardSchemaV1 | undefined,
    StandardSchemaV1 | undefined
  >;
  // Stored type-erased: each handler's types were checked where it was declared.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly handler: RouteHandler<any, any, any>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;
