// The supervisor's control loop: every period, read each pool's size and its replicas'
// latest loads, ask the Autoscaler for each pool's desired size, record every decision, and
// resize. Resizing is not awaited: a drain may take seconds, and the loop keeps its period;
// a pool's size counts replicas starting and not those leaving, so a step never asks twice.

import type { Logger } from 'pino';
import type { ScalePolicy } from '../app/service.ts';
import type { Autoscaler, ReplicaLoad } from './autoscaler.ts';
import type { DecisionLog } from './decision-log.ts';

/** What the loop needs of a pool (supervisor/service-pool.ts, supervisor/task-pool.ts). */
export interface ScalablePool {
  /** The pool's name in decisions and policies: `posts`, or `auth/tasks`. */
  readonly key: string;
  readonly size: number;
  /** @default 'requests' */
  readonly kind?: 'requests' | 'tasks';
  loads(): ReplicaLoad[];
  resize(size: number): Promise<void>;
}

export interface ScaleLoopOptions {
  pools: readonly ScalablePool[];
  policyOf: (key: string) => ScalePolicy;
  autoscaler: Autoscaler;
  decisions: DecisionLog;
  log: Logger;
  /** @default 100 */
  intervalMs?: number;
}

export class ScaleLoop {
  readonly #options: ScaleLoopOptions;
  readonly #desired = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ScaleLoopOptions) {
    this.#options = options;
    for (const pool of options.pools) this.#desired.set(pool.key, pool.size);
  }

  start(): void {
    this.#timer ??= setInterval(() => this.step(), this.#options.intervalMs ?? 100);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** What the last step wanted for the pool named `key`. */
  desiredOf(key: string): number | undefined {
    return this.#desired.get(key);
  }

  /** One control-loop step; public so tests can drive it. */
  step(): void {
    const { pools, policyOf, autoscaler, decisions, log } = this.#options;
    const states = pools.map((pool) => ({
      service: pool.key,
      policy: policyOf(pool.key),
      current: pool.size,
      loads: pool.loads(),
      kind: pool.kind ?? 'requests',
      // Task workers share the CPU budget of tasks (Supervisor: groupBudgets.tasks).
      ...(pool.kind === 'tasks' ? { group: 'tasks' } : {}),
    }));
    const { desired, decisions: made } = autoscaler.step(states);
    for (const decision of made) decisions.record(decision);
    for (const pool of pools) {
      const size = desired.get(pool.key);
      if (size === undefined) continue;
      this.#desired.set(pool.key, size);
      if (size === pool.size) continue;
      pool.resize(size).catch((err: unknown) => log.error({ err, pool: pool.key }, 'resize failed'));
    }
  }
}
