// The autoscaler's arithmetic, apart from processes and timers so it is tested with plain
// numbers and a fake clock. Each control-loop step takes every pool's size and its ready
// replicas' latest loads, and says what size each pool should be:
//
//   desired = ceil(current × observed / target), for each signal, the largest wins
//
// (Kubernetes' HPA rule: with `ready` replicas averaging `observed`, this many carry the load
// at `target` each), clamped to the policy's min and max and to the machine's budget.
// Scale-up is immediate. Scale-down takes the highest recommendation of the stabilisation
// window, so the pool shrinks only once it has wanted fewer replicas for the whole window.
// Within 10% of the target nothing changes, so noise does not flap a pool.

import type { ScalePolicy } from '../app/service.ts';

/** What a replica reports a few times a second. */
export interface ReplicaLoad {
  inFlight: number;
  /** Event-loop utilisation since its last report, 0–1. */
  eventLoop: number;
}

export interface PoolState {
  service: string;
  policy: ScalePolicy;
  /** Replicas running or starting: what the pool is sized to now. */
  current: number;
  /** The latest load of each ready replica (starting ones have none yet). */
  loads: readonly ReplicaLoad[];
  /** What "in flight" counts, for the reasons logged: requests, or tasks (running or waiting). @default 'requests' */
  kind?: 'requests' | 'tasks';
  /** A budget this pool shares with others besides the machine's (AutoscalerOptions.groupBudgets). */
  group?: string;
}

export interface ScaleSignals {
  readyReplicas: number;
  inFlight: number;
  eventLoop: number;
}

export interface ScaleDecision {
  /** ISO time. */
  at: string;
  service: string;
  from: number;
  to: number;
  reason: string;
  signals: ScaleSignals;
}

export interface AutoscalerOptions {
  /** Most replicas all pools together may run. */
  budget: number;
  /**
   * Tighter budgets for groups of pools, e.g. `{ tasks: cores - 1 }`: CPU-bound task workers
   * beyond the cores only take CPU from the processes answering requests.
   */
  groupBudgets?: Readonly<Record<string, number>>;
  /** Overrides every pool's downAfterMs (CLEAVE_SCALE_DOWN_AFTER_MS). */
  downAfterMs?: number;
  /** @default Date.now */
  now?: () => number;
  /** @default 0.1 */
  tolerance?: number;
}

export interface ScaleStep {
  /** Desired size per service, after clamping and the budget. */
  desired: Map<string, number>;
  /** One per pool whose size changes in this step. */
  decisions: ScaleDecision[];
}

interface Recommendation {
  at: number;
  replicas: number;
}

export class Autoscaler {
  readonly budget: number;
  readonly #options: AutoscalerOptions;
  readonly #now: () => number;
  readonly #tolerance: number;
  readonly #history = new Map<string, Recommendation[]>();

  constructor(options: AutoscalerOptions) {
    if (!Number.isInteger(options.budget) || options.budget < 1) {
      throw new RangeError(`budget must be a positive whole number, got ${options.budget}`);
    }
    this.budget = options.budget;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#tolerance = options.tolerance ?? 0.1;
  }

  /** A pool's largest size: its policy's max, within the budget and its group's. */
  maxOf(policy: ScalePolicy, group?: string): number {
    const groupBudget = group === undefined ? Infinity : (this.#options.groupBudgets?.[group] ?? Infinity);
    return Math.max(policy.min, Math.min(policy.max, this.budget, groupBudget));
  }

  step(pools: readonly PoolState[]): ScaleStep {
    const now = this.#now();
    const planned = pools.map((pool) => this.#plan(pool, now));
    // Shrinking pools give their room back before growing ones take it; the pool under the
    // most pressure grows first when the budget can't take every request.
    const kept = (plan: (typeof planned)[number]) => Math.min(plan.pool.current, plan.to);
    let total = planned.reduce((sum, plan) => sum + kept(plan), 0);
    const groupTotals = new Map<string, number>();
    for (const plan of planned) {
      const group = plan.pool.group;
      if (group !== undefined) groupTotals.set(group, (groupTotals.get(group) ?? 0) + kept(plan));
    }
    const desired = new Map<string, number>();
    const decisions: ScaleDecision[] = [];
    for (const plan of [...planned].sort((a, b) => b.pressure - a.pressure)) {
      const { pool } = plan;
      let to = plan.to;
      if (to > pool.current) {
        let room = this.budget - total;
        const groupBudget = pool.group === undefined ? undefined : this.#options.groupBudgets?.[pool.group];
        if (groupBudget !== undefined)
          room = Math.min(room, groupBudget - (groupTotals.get(pool.group as string) ?? 0));
        to = Math.max(pool.current, Math.min(to, pool.current + room));
        total += to - pool.current;
        if (pool.group !== undefined)
          groupTotals.set(pool.group, (groupTotals.get(pool.group) ?? 0) + to - pool.current);
      }
      desired.set(pool.service, to);
      if (to !== pool.current) {
        decisions.push({
          at: new Date(now).toISOString(),
          service: pool.service,
          from: pool.current,
          to,
          reason: to > pool.current ? plan.upReason : plan.downReason,
          signals: plan.signals,
        });
        // The new size is what the window remembers: a shrink right after a growth waits it out.
        this.#remember(pool.service, now, to, pool.policy);
      }
    }
    return { desired, decisions };
  }

  /** Forgets a pool's window (it was stopped). */
  forget(service: string): void {
    this.#history.delete(service);
  }

  #plan(pool: PoolState, now: number) {
    const { policy, current, loads } = pool;
    const ready = loads.length;
    const inFlight = loads.reduce((sum, load) => sum + load.inFlight, 0);
    const eventLoop = ready === 0 ? 0 : loads.reduce((sum, load) => sum + load.eventLoop, 0) / ready;
    const signals: ScaleSignals = {
      readyReplicas: ready,
      inFlight: Number(inFlight.toFixed(2)),
      eventLoop: Number(eventLoop.toFixed(3)),
    };
    const byInFlight = inFlight / policy.target.inFlight;
    const byLoop = (ready * eventLoop) / policy.target.eventLoop;
    const need = Math.max(byInFlight, byLoop);
    let recommended = current;
    // No ready replica has reported yet: nothing to go on, keep the size.
    if (ready > 0 && Math.abs(need / ready - 1) > this.#tolerance) recommended = Math.ceil(need);
    recommended = Math.min(this.maxOf(policy, pool.group), Math.max(policy.min, recommended));

    const history = this.#remember(pool.service, now, recommended, policy, current);
    const window = this.#options.downAfterMs ?? policy.downAfterMs;
    // The highest recommendation of the window; the window must be full, or the pool is too
    // young to know it is calm.
    const covered = history[0] !== undefined && history[0].at <= now - window;
    const recent = history.filter((entry) => entry.at >= now - window).map((entry) => entry.replicas);
    const stabilised = covered ? Math.max(...recent) : current;
    const to = recommended > current ? recommended : Math.min(current, stabilised);
    const described =
      pool.kind === 'tasks'
        ? `${Math.round(inFlight)} tasks running or waiting for ${ready} workers, target ${policy.target.inFlight} each`
        : byLoop >= byInFlight
          ? `event loop ${eventLoop.toFixed(2)} per replica, target ${policy.target.eventLoop}`
          : `${Number(inFlight.toFixed(1))} requests in flight over ${ready} replicas, target ${policy.target.inFlight} each`;
    return {
      pool,
      to,
      signals,
      pressure: ready === 0 ? 0 : need / ready,
      upReason: described,
      downReason: `below target for ${Math.round(window / 1000)} s: ${described}`,
    };
  }

  #remember(service: string, now: number, replicas: number, policy: ScalePolicy, initial = replicas): Recommendation[] {
    const window = this.#options.downAfterMs ?? policy.downAfterMs;
    let history = this.#history.get(service);
    if (history === undefined) {
      // A new pool starts with its size as the window's only entry: no shrink for one window.
      history = [{ at: now, replicas: initial }];
      this.#history.set(service, history);
    }
    history.push({ at: now, replicas });
    // Keep one entry at or before the window's start, so `covered` can tell a full window.
    while (history.length > 2 && (history[1] as Recommendation).at <= now - window) history.shift();
    return history;
  }
}
