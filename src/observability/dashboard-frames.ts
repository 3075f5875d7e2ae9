// What the live dashboard draws, one frame a second, made from the metrics every process
// already reports (metrics.ts) and, split, the supervisor's status: the dashboard reads what
// Prometheus would scrape, so the two never disagree. Rates and percentiles come from the
// difference between two snapshots, as `rate()` and `histogram_quantile()` would compute them
// over one interval; a replica that left or restarted between them (its counts went down) is
// counted from zero.

import type { ScaleDecision } from '../autoscale/autoscaler.ts';
import type { NodeStatus } from '../discovery/node.ts';
import type { AppStatus, PoolStatus } from '../supervisor/status.ts';
import type { MetricsSnapshot } from './metrics.ts';
import type { RecentError } from './recent-errors.ts';

export interface RouteFigures {
  service: string;
  route: string;
  /** Requests a second over the last interval. */
  rate: number;
  /** Of those, answered 5xx. */
  errorRate: number;
  /** Seconds; null when nothing was answered in the interval. */
  p50: number | null;
  p99: number | null;
}

export interface ProcessFigures {
  /** `posts#1`, `gateway`, `supervisor`; the app's name in `cleave dev`. */
  replica: string;
  service: string;
  pid: number;
  /** Share of one core over the last interval, 0–1 (and above, for a process on several). */
  cpu: number;
  memoryBytes: number;
}

export interface DashboardFrame {
  /** ms since the epoch. */
  time: number;
  app: string;
  mode: 'monolith' | 'split';
  routes: RouteFigures[];
  /** Every route together. */
  requestRate: number;
  errorRate: number;
  /** Answers refused by a rate limit (429) a second. */
  rateLimitedRate: number;
  /** Response-cache hits over lookups in the interval; null when none. */
  cacheHitRatio: number | null;
  processes: ProcessFigures[];
  /** Split: each pool's replicas, load and queue; empty in `cleave dev`. */
  pools: PoolStatus[];
  decisions: ScaleDecision[];
  nodes: NodeStatus[];
  /** The last 5xx answers with their request ids, oldest first. */
  errors: RecentError[];
}

interface Sample {
  time: number;
  metrics: MetricsSnapshot;
}

/** Turns successive snapshots into frames; keeps the one before to take differences from. */
export class DashboardFrames {
  readonly #app: string;
  #previous: Sample | undefined;

  constructor(app: string) {
    this.#app = app;
  }

  next(
    metrics: MetricsSnapshot,
    status: AppStatus | undefined,
    errors: RecentError[] = [],
    time = Date.now(),
  ): DashboardFrame {
    const previous = this.#previous;
    this.#previous = { time, metrics };
    const seconds = previous === undefined ? 0 : Math.max((time - previous.time) / 1000, 0.001);
    const delta = (name: string) => deltas(valuesOf(metrics, name), previous && valuesOf(previous.metrics, name));
    // Split, the requests as clients see them: at the gateway, answers from its cache and
    // replicas' 429s included; in one process, the pipeline's own.
    const edge = valuesOf(metrics, 'cleave_gateway_requests_total').length > 0 ? 'gateway' : 'http';
    const requests = delta(`cleave_${edge}_requests_total`);
    const buckets = delta(`cleave_${edge}_request_duration_seconds_bucket`);
    const perSecond = (count: number) => (seconds === 0 ? 0 : count / seconds);
    const routes = routeFigures(requests, buckets, perSecond);
    const cache = delta('cleave_cache_lookups_total');
    const lookups = sum(cache);
    const limited = sum(requests.filter((entry) => entry.labels.status === '429'));
    return {
      time,
      app: this.#app,
      mode: status === undefined ? 'monolith' : 'split',
      routes,
      requestRate: routes.reduce((total, route) => total + route.rate, 0),
      errorRate: routes.reduce((total, route) => total + route.errorRate, 0),
      rateLimitedRate: perSecond(limited),
      cacheHitRatio: lookups === 0 ? null : sum(cache.filter((entry) => entry.labels.result !== 'miss')) / lookups,
      processes: processFigures(metrics, delta('process_cpu_seconds_total'), seconds, this.#app),
      pools: status?.pools ?? [],
      decisions: status?.decisions ?? [],
      nodes: status?.nodes ?? [],
      errors,
    };
  }
}

interface Entry {
  labels: Record<string, string>;
  value: number;
}

function valuesOf(metrics: MetricsSnapshot, name: string): Entry[] {
  const out: Entry[] = [];
  for (const metric of metrics) {
    for (const value of metric.values) {
      const metricName = (value as { metricName?: string }).metricName ?? metric.name;
      if (metricName !== name) continue;
      const labels: Record<string, string> = {};
      for (const key in value.labels) labels[key] = String(value.labels[key]);
      out.push({ labels, value: value.value });
    }
  }
  return out;
}

function keyOf(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

/** Each series' growth since `before`: a series new since then, or one that went down (a restart), counts from zero. */
function deltas(now: Entry[], before: Entry[] | undefined): Entry[] {
  if (before === undefined) return now.map((entry) => ({ labels: entry.labels, value: 0 }));
  const earlier = new Map(before.map((entry) => [keyOf(entry.labels), entry.value]));
  return now.map((entry) => {
    const was = earlier.get(keyOf(entry.labels)) ?? 0;
    return { labels: entry.labels, value: entry.value >= was ? entry.value - was : entry.value };
  });
}

function sum(entries: Entry[]): number {
  return entries.reduce((total, entry) => total + entry.value, 0);
}

function routeFigures(requests: Entry[], buckets: Entry[], perSecond: (count: number) => number): RouteFigures[] {
  const routes = new Map<
    string,
    { service: string; route: string; count: number; errors: number; buckets: Map<number, number> }
  >();
  const routeOf = (labels: Record<string, string>) => {
    const key = `${labels.service}\0${labels.route}`;
    let route = routes.get(key);
    if (route === undefined) {
      route = { service: labels.service ?? '-', route: labels.route ?? '-', count: 0, errors: 0, buckets: new Map() };
      routes.set(key, route);
    }
    return route;
  };
  for (const entry of requests) {
    const route = routeOf(entry.labels);
    route.count += entry.value;
    if (Number(entry.labels.status) >= 500) route.errors += entry.value;
  }
  for (const entry of buckets) {
    const route = routeOf(entry.labels);
    const bound = entry.labels.le === '+Inf' ? Infinity : Number(entry.labels.le);
    route.buckets.set(bound, (route.buckets.get(bound) ?? 0) + entry.value);
  }
  return [...routes.values()]
    .map((route) => ({
      service: route.service,
      route: route.route,
      rate: perSecond(route.count),
      errorRate: perSecond(route.errors),
      p50: quantile(0.5, route.buckets),
      p99: quantile(0.99, route.buckets),
    }))
    .sort((a, b) => b.rate - a.rate || a.route.localeCompare(b.route));
}

/**
 * The q-quantile of cumulative `buckets` (upper bound → count), interpolated within the bucket
 * it falls in, as Prometheus's histogram_quantile does; the highest finite bound when it falls
 * in the last, unbounded one.
 */
export function quantile(q: number, buckets: Map<number, number>): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total =
    buckets.get(Infinity) ?? (bounds.length === 0 ? 0 : (buckets.get(bounds[bounds.length - 1] as number) ?? 0));
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound) ?? 0;
    if (count >= rank) {
      if (bound === Infinity) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? bound : lower + ((bound - lower) * (rank - below)) / inBucket;
    }
    lower = bound;
    below = count;
  }
  return lower;
}

function processFigures(metrics: MetricsSnapshot, cpu: Entry[], seconds: number, app: string): ProcessFigures[] {
  const memory = new Map(
    valuesOf(metrics, 'process_resident_memory_bytes').map((entry) => [processKey(entry.labels), entry.value]),
  );
  return cpu
    .map((entry) => ({
      replica: entry.labels.replica ?? app,
      service: entry.labels.service ?? entry.labels.replica ?? app,
      pid: Number(entry.labels.pid ?? process.pid),
      cpu: seconds === 0 ? 0 : entry.value / seconds,
      memoryBytes: memory.get(processKey(entry.labels)) ?? 0,
    }))
    .sort((a, b) => a.replica.localeCompare(b.replica, 'en', { numeric: true }));
}

function processKey(labels: Record<string, string>): string {
  return `${labels.replica ?? ''}\0${labels.pid ?? ''}`;
}
