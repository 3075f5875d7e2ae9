// The public face of cleave: everything an app may import. Internals stay
// behind it and may change without notice.

export { defineApp, type App, type AppOptions } from './app/app.ts';
export type {
  ActionContext,
  ActionDefinition,
  ActionHandler,
  ActionInput,
  ActionOptions,
  ActionOutput,
  Actions,
  CallOptions,
} from './app/action.ts';
export type { RequestContext, ServiceContext, SignInOptions, User } from './app/context.ts';
export { reply, Reply, type ReplyInit } from './app/reply.ts';
export type { HttpMethod, RouteCacheOptions, RouteOptions } from './app/route.ts';
export {
  defineService,
  Service,
  type CronOptions,
  type ScalePolicy,
  type ScaleTargets,
  type ServiceOptions,
  type StaticOptions,
} from './app/service.ts';
export type { CleaveSocket, SocketHandlers, SocketOptions } from './app/socket.ts';
export type { TaskDefinition, TaskRef } from './app/task.ts';
export { defineConfig, type Config, type ConfigSpec } from './config/config.ts';
export { env } from './config/env.ts';
export * from './errors.ts';
export type { Job, JobState } from './queue/types.ts';
export type { Collection } from './store/collection.ts';
export type { ListOptions, PutOptions, StoredRecord } from './store/types.ts';
