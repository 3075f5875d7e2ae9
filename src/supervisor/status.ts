// What `cleave status --json` prints: one object with a `pools` array, for scripts.

import type { ScalePolicy, ScaleTargets } from '../app/service.ts';
import type { ReplicaLoad, ScaleDecision } from '../autoscale/autoscaler.ts';
import type { ScaleCounts } from '../autoscale/decision-log.ts';
import type { CacheStats } from '../cache/response-cache.ts';
import type { NodeStatus } from '../discovery/node.ts';

export interface PoolStatus {
  service: string;
  /** `requests`: replicas serving HTTP and sockets; `tasks`: workers running a service's tasks. */
  kind: 'requests' | 'tasks';
  replicas: {
    /** Ready and serving. */
    ready: number;
    /** Running or starting, not counting those draining to leave. */
    now: number;
    desired: number;
    min: number;
    /** The policy's max within the machine budget. */
    max: number;
  };
  /** Requests in flight over all ready replicas (time-weighted); for a task pool, the tasks running. */
  inFlight: number;
  /** Mean event-loop utilisation of the ready replicas, 0–1. */
  eventLoop: number;
  queueDepth: number;
  /** Processes loaded and idle, promoted at once when the pool grows. */
  standby: number;
  target: ScaleTargets;
  downAfterMs: number;
  scaled: ScaleCounts;
}

export interface AppStatus {
  app: string;
  pid: number;
  port: number | undefined;
  autoscale: boolean;
  replicaBudget: number;
  pools: PoolStatus[];
  /** Recent scaling decisions, oldest first. */
  decisions: ScaleDecision[];
  /** Every live node of the app, this one first: only this one when no NATS is shared. */
  nodes: NodeStatus[];
  /** The gateway's response cache, as last reported; absent with CLEAVE_CACHE=off. */
  cache?: CacheStats;
  /** The admin listener's URL (`/metrics`), once it listens. */
  admin?: string;
}

/** What status needs of a pool, request or task. */
interface MeasuredPool {
  readonly service: string;
  readonly size: number;
  readonly readyCount: number;
  loads(): ReplicaLoad[];
}

export function poolStatus(input: {
  pool: MeasuredPool;
  kind: PoolStatus['kind'];
  policy: ScalePolicy;
  max: number;
  desired: number | undefined;
  queueDepth: number;
  /** Overrides the sum of the loads (a task pool's: the tasks running). */
  inFlight?: number;
  standby?: number;
  scaled: ScaleCounts;
  downAfterMs: number;
}): PoolStatus {
  const { pool, policy } = input;
  const loads = pool.loads();
  const meanLoop = loads.length === 0 ? 0 : loads.reduce((sum, load) => sum + load.eventLoop, 0) / loads.length;
  return {
    service: pool.service,
    kind: input.kind,
    replicas: {
      ready: pool.readyCount,
      now: pool.size,
      desired: input.desired ?? pool.size,
      min: policy.min,
      max: input.max,
    },
    inFlight: input.inFlight ?? Number(loads.reduce((sum, load) => sum + load.inFlight, 0).toFixed(2)),
    eventLoop: Number(meanLoop.toFixed(3)),
    queueDepth: input.queueDepth,
    standby: input.standby ?? 0,
    target: policy.target,
    downAfterMs: input.downAfterMs,
    scaled: input.scaled,
  };
}
