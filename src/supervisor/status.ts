// What `cleave status --json` prints: one object with a `pools` array, for scripts.

import type { ScaleTargets } from '../app/service.ts';
import type { ScaleDecision } from '../autoscale/autoscaler.ts';
import type { ScaleCounts } from '../autoscale/decision-log.ts';

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
  /** Requests in flight over all ready replicas. */
  inFlight: number;
  /** Mean event-loop utilisation of the ready replicas, 0–1. */
  eventLoop: number;
  queueDepth: number;
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
}
