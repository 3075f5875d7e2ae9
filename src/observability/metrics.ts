// One process's Prometheus metrics (prom-client), each defined here once so every process
// names them alike: HTTP requests by route (the app's handlers, and the gateway's edge with
// its cache use), failed attempts on replicas, calls by action, events, store operations,
// tasks, the response cache, the supervisor's pools, and the process's own (CPU, memory,
// event loop, GC: prom-client's defaults). A registry per instance, never prom-client's
// global one, so a test can hold several.
//
// In `cleave dev` the process serves its own registry on the admin listener; split, each
// process sends snapshots to its supervisor, which serves them together
// (metrics-gatherer.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { CacheStats } from '../cache/response-cache.ts';
import type { PoolStatus } from '../supervisor/status.ts';
import { answeredStatus } from './access-log.ts';
import { RecentErrors } from './recent-errors.ts';

/** One process's metrics as prom-client's JSON: what a child sends its supervisor. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/** Seconds: from a static file's sub-millisecond answer to a handler near its 30 s deadline. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a finished request tells the metrics. */
export interface RequestFacts {
  service: string;
  /** The route's pattern (`/api/posts/:id`), never the path: one series per route, not per id. */
  route: string;
  method: string;
  status: number;
  seconds: number;
  /** For the list of recent errors. */
  requestId: string;
  path: string;
}

/** What a request through the gateway tells the metrics. */
export interface GatewayRequestFacts extends RequestFacts {
  /** Answered from the response cache, stored in it, or neither. */
  cache: 'hit' | 'miss' | 'none';
}

/** A finished request's facts, from its response and what the pipeline learnt of it. */
export function requestFactsOf(
  req: IncomingMessage,
  res: ServerResponse,
  exchange: { service: string; route: string; started: number; requestId: string; path: string },
): RequestFacts {
  return {
    requestId: exchange.requestId,
    path: exchange.path,
    service: exchange.service,
    route: exchange.route,
    method: req.method ?? 'GET',
    status: answeredStatus(res),
    seconds: (performance.now() - exchange.started) / 1000,
  };
}

export class Metrics {
  readonly registry = new Registry();
  /** The last 5xx answers with their request ids: reported with the snapshots, not a metric. */
  readonly recentErrors = new RecentErrors();
  readonly #requests: Counter<'service' | 'route' | 'method' | 'status'>;
  readonly #duration: Histogram<'service' | 'route' | 'method'>;
  readonly #gatewayRequests: Counter<'service' | 'route' | 'method' | 'status' | 'cache'>;
  readonly #gatewayDuration: Histogram<'service' | 'route' | 'method'>;
  readonly #upstreamFailures: Counter<'service' | 'failure' | 'retried'>;
  readonly #taskRuns: Counter<'service' | 'task' | 'outcome'>;
  readonly #calls: Counter<'action' | 'outcome'>;
  readonly #storeDuration: Histogram<'collection' | 'operation' | 'outcome'>;
  readonly #eventsPublished: Counter<'service' | 'topic'>;
  readonly #eventsHandled: Counter<'service' | 'topic' | 'outcome'>;
  readonly #callDuration: Histogram<'action'>;
  readonly #taskDuration: Histogram<'service' | 'task'>;

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters, which Prometheus's own lint refuses; the same counts are
      // there by type, in nodejs_active_handles and its kin.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ])
        this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'cleave_http_requests_total',
      help: 'HTTP requests answered, by service, route pattern, method and status.',
      labelNames: ['service', 'route', 'method', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'cleave_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer ending, by service, route pattern and method.',
      labelNames: ['service', 'route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#gatewayRequests = new Counter({
      name: 'cleave_gateway_requests_total',
      help: 'Gateway: requests answered, by service, route pattern, method, status and response cache use.',
      labelNames: ['service', 'route', 'method', 'status', 'cache'],
      registers,
    });
    this.#gatewayDuration = new Histogram({
      name: 'cleave_gateway_request_duration_seconds',
      help: 'Gateway: time from a request arriving to its answer ending, replica and retries included.',
      labelNames: ['service', 'route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#upstreamFailures = new Counter({
      name: 'cleave_gateway_upstream_failures_total',
      help: 'Gateway: failed attempts on a replica, by kind, and whether another replica was tried.',
      labelNames: ['service', 'failure', 'retried'],
      registers,
    });
    this.#taskRuns = new Counter({
      name: 'cleave_task_runs_total',
      help: 'Tasks run by a task worker, by service, task and outcome (ok or failed).',
      labelNames: ['service', 'task', 'outcome'],
      registers,
    });
    this.#taskDuration = new Histogram({
      name: 'cleave_task_duration_seconds',
      help: 'Time a task worker spent running a task, by service and task.',
      labelNames: ['service', 'task'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#calls = new Counter({
      name: 'cleave_calls_total',
      help: 'ctx.call()s made from this process, by action and outcome (ok, or the error code).',
      labelNames: ['action', 'outcome'],
      registers,
    });
    this.#callDuration = new Histogram({
      name: 'cleave_call_duration_seconds',
      help: 'Time a ctx.call() took as its caller saw it, hops and retries included, by action.',
      labelNames: ['action'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#storeDuration = new Histogram({
      name: 'cleave_store_operation_duration_seconds',
      help: 'Store operations as a handler sees them (hop included), by collection, operation and outcome.',
      labelNames: ['collection', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#eventsPublished = new Counter({
      name: 'cleave_events_published_total',
      help: 'Events a service emitted, by topic.',
      labelNames: ['service', 'topic'],
      registers,
    });
    this.#eventsHandled = new Counter({
      name: 'cleave_events_handled_total',
      help: "Events a service's listeners ran for, by topic and outcome (ok or failed).",
      labelNames: ['service', 'topic', 'outcome'],
      registers,
    });
  }

  storeOperation(collection: string, operation: string, ok: boolean, seconds: number): void {
    this.#storeDuration.observe({ collection, operation, outcome: ok ? 'ok' : 'failed' }, seconds);
  }

  eventPublished(service: string, topic: string): void {
    this.#eventsPublished.inc({ service, topic });
  }

  eventHandled(service: string, topic: string, ok: boolean): void {
    this.#eventsHandled.inc({ service, topic, outcome: ok ? 'ok' : 'failed' });
  }

  callEnded(action: string, outcome: string, seconds: number): void {
    this.#calls.inc({ action, outcome });
    this.#callDuration.observe({ action }, seconds);
  }

  taskRan(service: string, task: string, ok: boolean, seconds: number): void {
    this.#taskRuns.inc({ service, task, outcome: ok ? 'ok' : 'failed' });
    this.#taskDuration.observe({ service, task }, seconds);
  }

  requestEnded(facts: RequestFacts): void {
    this.#requests.inc({ service: facts.service, route: facts.route, method: facts.method, status: facts.status });
    this.#duration.observe({ service: facts.service, route: facts.route, method: facts.method }, facts.seconds);
    this.#noteError(facts);
  }

  /** A 5xx is listed with its request id (the dashboard's recent errors); a 4xx is the client's. */
  #noteError(facts: RequestFacts): void {
    if (facts.status < 500) return;
    const { status, method, path, service, requestId } = facts;
    this.recentErrors.add({ at: new Date().toISOString(), status, method, path, service, requestId });
  }

  gatewayRequestEnded(facts: GatewayRequestFacts): void {
    const { service, route, method } = facts;
    this.#gatewayRequests.inc({ service, route, method, status: facts.status, cache: facts.cache });
    this.#gatewayDuration.observe({ service, route, method }, facts.seconds);
    this.#noteError(facts);
  }

  upstreamFailed(service: string, failure: string, retried: boolean): void {
    this.#upstreamFailures.inc({ service, failure, retried: retried ? 'true' : 'false' });
  }

  /** Each pool's processes, load, queue and scaling, read from `pools` at each scrape (the supervisor's). */
  observePools(pools: () => readonly PoolStatus[]): void {
    const registers = [this.registry];
    const labelNames = ['service', 'kind'] as const;
    const gauge = (name: string, help: string, value: (pool: PoolStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const pool of pools()) this.set({ service: pool.service, kind: pool.kind }, value(pool));
        },
      });
    new Gauge({
      name: 'cleave_pool_replicas',
      help: 'Processes of each pool (request replicas or task workers), ready or starting.',
      labelNames: [...labelNames, 'state'],
      registers,
      collect() {
        this.reset();
        for (const { service, kind, replicas } of pools()) {
          this.set({ service, kind, state: 'ready' }, replicas.ready);
          this.set({ service, kind, state: 'starting' }, replicas.now - replicas.ready);
        }
      },
    });
    gauge('cleave_pool_replicas_desired', "The autoscaler's size for each pool.", (pool) => pool.replicas.desired);
    gauge(
      'cleave_pool_in_flight',
      "Requests in flight over a pool's ready replicas (time-weighted); a task pool's running tasks.",
      (pool) => pool.inFlight,
    );
    gauge(
      'cleave_pool_event_loop_utilization',
      "Mean event-loop utilisation of a pool's ready replicas, 0 to 1.",
      (pool) => pool.eventLoop,
    );
    gauge('cleave_pool_queue_depth', 'Tasks waiting for a worker of the pool.', (pool) => pool.queueDepth);
    new Counter({
      name: 'cleave_pool_scale_decisions_total',
      help: "The autoscaler's decisions to grow or shrink each pool.",
      labelNames: [...labelNames, 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { service, kind, scaled } of pools()) {
          this.inc({ service, kind, direction: 'up' }, scaled.up);
          this.inc({ service, kind, direction: 'down' }, scaled.down);
        }
      },
    });
  }

  /** The response cache's lookups and size, read from `stats` at each scrape. */
  observeCache(stats: () => CacheStats): void {
    const registers = [this.registry];
    new Counter({
      name: 'cleave_cache_lookups_total',
      help: 'Response cache lookups: hit, miss, or coalesced (waited for a fill already under way).',
      labelNames: ['result'],
      registers,
      collect() {
        const now = stats();
        this.reset();
        this.inc({ result: 'hit' }, now.hits);
        this.inc({ result: 'miss' }, now.misses);
        this.inc({ result: 'coalesced' }, now.coalesced);
      },
    });
    new Gauge({
      name: 'cleave_cache_entries',
      help: 'Responses held by the response cache.',
      registers,
      collect() {
        this.set(stats().entries);
      },
    });
    new Gauge({
      name: 'cleave_cache_bytes',
      help: 'Memory the response cache holds, bodies and headers together.',
      registers,
      collect() {
        this.set(stats().bytes);
      },
    });
  }

  /** The text exposition (Prometheus 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }
}
