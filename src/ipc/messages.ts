// What a replica or the gateway and the supervisor say to each other over a fork() IPC channel. Every
// message carries the `cleave` marker: user code may use the same channel for its own
// messages, and both ends ignore anything without it.

import type { CacheStats } from '../cache/response-cache.ts';
import type { MetricsSnapshot } from '../observability/metrics.ts';
import type { RecentError } from '../observability/recent-errors.ts';
import type { Job } from '../queue/types.ts';
import type { Count } from '../ratelimit/types.ts';
import type { WireError } from '../shared/error-wire.ts';
import type { TraceCarrier } from '../observability/tracing.ts';
import type { ListOptions, PutOptions, StoredRecord } from '../store/types.ts';

/** The marker's value; bumped if a message changes shape. Both ends run one install, so never mixed today. */
export const PROTOCOL_VERSION = 1;

interface Tagged {
  cleave: typeof PROTOCOL_VERSION;
}

/**
 * The calls a replica makes to the supervisor's backends, with their results. Options are
 * always objects, never undefined: JSON serialisation turns `undefined` in an array into null.
 */
export interface RpcMethods {
  'store.get': { args: [collection: string, key: string]; result: StoredRecord | undefined };
  'store.put': {
    args: [collection: string, key: string, value: unknown, options: PutOptions];
    result: StoredRecord;
  };
  'store.delete': { args: [collection: string, key: string, options: PutOptions]; result: boolean };
  'store.list': { args: [collection: string, options: ListOptions]; result: StoredRecord[] };
  'lock.tryAcquire': { args: [name: string, ttlMs: number]; result: boolean };
  'lock.release': { args: [name: string]; result: void };
  'task.run': { args: [task: string, input: unknown, trace?: TraceCarrier]; result: unknown };
  'task.enqueue': { args: [task: string, input: unknown]; result: Job };
  'task.job': { args: [id: string]; result: Job | undefined };
  'rate.hit': { args: [key: string, points: number, durationMs: number]; result: Count };
  'rate.blockedFor': { args: [key: string]; result: number };
  'rate.block': { args: [key: string, ms: number]; result: void };
  'rate.reset': { args: [key: string, durationMs: number]; result: void };
}

export type RpcMethod = keyof RpcMethods;
export type RpcArgs<M extends RpcMethod> = RpcMethods[M]['args'];
export type RpcResult<M extends RpcMethod> = RpcMethods[M]['result'];

/** replica → supervisor; `id` is unique among the sender's calls still waiting. */
export type RpcRequest = {
  [M in RpcMethod]: Tagged & { type: 'request'; id: number; method: M; args: RpcArgs<M> };
}[RpcMethod];

/** supervisor → replica, answering the request with the same id. */
export type RpcResponse = Tagged & { type: 'response'; id: number } & (
    { ok: true; value: unknown } | { ok: false; error: WireError }
  );

/** replica → supervisor: this channel wants (one more) / no longer wants events on `topic`. */
/**
 * replica → supervisor: this channel wants (one more) / no longer wants events on `topic`;
 * with a `group`, each event goes to one subscriber of the group, not to every one.
 */
export type SubscribeMessage = Tagged & { type: 'subscribe' | 'unsubscribe'; topic: string; group?: string };

/** One subscription's identity on both ends of a channel: its topic, and its group if any. */
export function subscriptionKey(topic: string, group: string | undefined): string {
  return group === undefined ? topic : `${topic}\u0000${group}`;
}

/** replica → supervisor: an event for every subscriber in the app. */
export type PublishMessage = Tagged & { type: 'publish'; topic: string; payload: unknown; trace?: TraceCarrier };

/** supervisor → replica: one event, sent once to each channel subscribed to its topic. */
export type EventMessage = Tagged & {
  type: 'event';
  topic: string;
  payload: unknown;
  group?: string;
  trace?: TraceCarrier;
};

/**
 * supervisor → replica: its unsubscribe from a group is done; no event for the group comes
 * after this one (a channel keeps its order), so the group's last handlers may go.
 */
export type UnsubscribedMessage = Tagged & { type: 'unsubscribed'; topic: string; group: string };

/** replica → supervisor: listening at `address` (a unix socket path); send it traffic. */
export type ReadyMessage = Tagged & { type: 'ready'; service: string; address: string };

/** supervisor → task worker process: run this task; answer with task-result and the same `job`. */
export type TaskRunMessage = Tagged & {
  type: 'task-run';
  job: number;
  task: string;
  input: unknown;
  trace?: TraceCarrier;
};

/** task worker process → supervisor. */
export type TaskResultMessage = Tagged & { type: 'task-result'; job: number } & (
    { ok: true; output: unknown } | { ok: false; error: WireError }
  );

/** replica → supervisor, a few times a second: the autoscaler's signals. */
export type LoadMessage = Tagged & { type: 'load'; inFlight: number; eventLoop: number };

/** supervisor → gateway: stop sending this replica requests, and say when none is in flight. */
export type ReplicaDrainMessage = Tagged & { type: 'replica-drain'; service: string; id: string };

/** gateway → supervisor: the replica named in replica-drain has no request left at the gateway. */
export type ReplicaDrainedMessage = Tagged & { type: 'replica-drained'; id: string };

/** gateway → supervisor: send me every ready replica now, and each change after. */
export type WatchReplicasMessage = Tagged & { type: 'watch-replicas' };

export interface ReplicaEntry {
  service: string;
  id: string;
  /** A unix socket path. */
  address: string;
}

/** supervisor → gateway, the answer to watch-replicas: every replica ready now. */
export type ReplicasMessage = Tagged & { type: 'replicas'; replicas: ReplicaEntry[] };

/** supervisor → gateway: a replica listens at `address` (a unix socket path) and may get traffic. */
export type ReplicaUpMessage = Tagged & { type: 'replica-up' } & ReplicaEntry;

/** supervisor → gateway: the replica's process is gone (or going): out of the pool at once. */
export type ReplicaDownMessage = Tagged & { type: 'replica-down'; service: string; id: string };

/** gateway → supervisor: an active probe's verdict flipped. */
export type ReplicaHealthMessage = Tagged & { type: 'replica-health'; service: string; id: string; healthy: boolean };

/** gateway → supervisor, every second: its response cache's counters, for `cleave status`. */
export type GatewayStatsMessage = Tagged & { type: 'gateway-stats'; cache: CacheStats };

/** gateway → supervisor: serving on `port`, and on `nodePort` for other nodes when it has a node listener. */
export type ListeningMessage = Tagged & { type: 'listening'; port: number; host: string; nodePort?: number };

/** gateway → supervisor: the port could not be bound; start-up stops with this error. */
export type ListenFailedMessage = Tagged & { type: 'listen-failed'; error: WireError };

/** any child → supervisor, every second and once more as it stops: its metrics (observability/metrics.ts). */
export type MetricsMessage = Tagged & { type: 'metrics'; snapshot: MetricsSnapshot; errors?: RecentError[] };

export type IpcMessage =
  | RpcRequest
  | RpcResponse
  | SubscribeMessage
  | PublishMessage
  | EventMessage
  | UnsubscribedMessage
  | ReadyMessage
  | TaskRunMessage
  | TaskResultMessage
  | LoadMessage
  | ReplicaDrainMessage
  | ReplicaDrainedMessage
  | WatchReplicasMessage
  | ReplicasMessage
  | ReplicaUpMessage
  | ReplicaDownMessage
  | ReplicaHealthMessage
  | ListeningMessage
  | ListenFailedMessage
  | GatewayStatsMessage
  | MetricsMessage;

const TYPES: ReadonlySet<string> = new Set<IpcMessage['type']>([
  'request',
  'response',
  'subscribe',
  'unsubscribe',
  'publish',
  'event',
  'unsubscribed',
  'ready',
  'task-run',
  'task-result',
  'load',
  'replica-drain',
  'replica-drained',
  'watch-replicas',
  'replicas',
  'replica-up',
  'replica-down',
  'replica-health',
  'listening',
  'listen-failed',
  'gateway-stats',
  'metrics',
]);

/**
 * True for a cleave message. Only the marker and the tag are checked: both ends are cleave
 * from the same install, so a tagged message is trusted to have its type's fields.
 */
export function isIpcMessage(value: unknown): value is IpcMessage {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { cleave?: unknown; type?: unknown };
  return candidate.cleave === PROTOCOL_VERSION && typeof candidate.type === 'string' && TYPES.has(candidate.type);
}
