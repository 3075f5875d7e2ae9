// The supervisor's side of split-mode metrics: every child's latest snapshot, labelled with
// its service, replica and pid, and the supervisor's own, served as one exposition.
//
// A child that leaves keeps its last counts in the exposition for a while (`lingerMs`), under
// its own labels, then they go: Prometheus sees a series go flat and end, so a replica's last
// requests are scraped and `rate()` neither spikes nor resets; its successor (a replica of the
// same name) is another series, told apart by its pid. The gone process's gauges go at once.

import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage } from '../ipc/messages.ts';
import type { Metrics, MetricsSnapshot } from './metrics.ts';
import { mergeRecentErrors, type RecentError } from './recent-errors.ts';

/** The labels a child's every series gets: `replica` and `pid`, and `service` unless the series names one. */
export interface ProcessLabels {
  replica: string;
  pid?: number;
  service?: string;
}

export interface MetricsGathererOptions {
  /** How long a gone process's counts stay in the exposition. @default 120000, several scrapes */
  lingerMs?: number;
}

export class MetricsGatherer {
  readonly #own: Metrics;
  readonly #lingerMs: number;
  /** Each child's latest snapshot, by its labels' key. */
  readonly #live = new Map<string, MetricsSnapshot>();
  /** Each child's recent 5xx answers, as it last reported them (kept while its counts linger). */
  readonly #errors = new Map<string, RecentError[]>();
  /** Gone children's last counts, until they expire. */
  readonly #departed = new Map<string, { snapshot: MetricsSnapshot; until: number }>();

  /** `own`: the supervisor's metrics, labelled `replica="supervisor"`. */
  constructor(own: Metrics, options: MetricsGathererOptions = {}) {
    this.#own = own;
    this.#lingerMs = options.lingerMs ?? 120_000;
  }

  /** Takes the snapshots a child sends on `channel` (metrics-report.ts), and lets it go once the channel closes. */
  watch(channel: IpcChannel, labels: ProcessLabels): void {
    const stop = channel.onMessage((message) => {
      if (isIpcMessage(message) && message.type === 'metrics') {
        this.update(labels, message.snapshot);
        if (message.errors !== undefined) this.#errors.set(keyOf(labels), message.errors);
      }
    });
    channel.onClose(() => {
      stop();
      this.departed(labels);
    });
  }

  /** The latest snapshot of the child with `labels`. */
  update(labels: ProcessLabels, snapshot: MetricsSnapshot): void {
    this.#live.set(keyOf(labels), labelled(snapshot, labels));
  }

  /** The child with `labels` is gone: its counts stay for `lingerMs`, its gauges go. */
  departed(labels: ProcessLabels): void {
    const key = keyOf(labels);
    const last = this.#live.get(key);
    this.#live.delete(key);
    if (last === undefined) return;
    const counts = last.filter((metric) => (metric.type as unknown as string) !== 'gauge'); // its types say an enum
    this.#departed.set(key, { snapshot: counts, until: Date.now() + this.#lingerMs });
  }

  /** Every process's metrics as one Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    const registry = await this.#registry();
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  /** Every process's metrics, merged as the exposition has them (the dashboard's). */
  async snapshot(): Promise<MetricsSnapshot> {
    return (await this.#registry()).getMetricsAsJSON();
  }

  /**
   * The node's recent 5xx answers: the gateway's first, since it answers every client (its
   * replicas' name the same requests), then any other process's, then the supervisor's own.
   */
  recentErrors(): RecentError[] {
    // A child's list goes when its counts do.
    for (const key of this.#errors.keys())
      if (!this.#live.has(key) && !this.#departed.has(key)) this.#errors.delete(key);
    const lists = [...this.#errors.entries()].sort(
      ([a], [b]) => Number(b.startsWith('gateway')) - Number(a.startsWith('gateway')),
    );
    return mergeRecentErrors([...lists.map(([, list]) => list), this.#own.recentErrors.list()]);
  }

  async #registry(): Promise<Registry<PrometheusContentType>> {
    const now = Date.now();
    for (const [key, gone] of this.#departed) if (gone.until <= now) this.#departed.delete(key);
    const own = labelled(await this.#own.snapshot(), { replica: 'supervisor', pid: process.pid });
    return oneRegistry([own, ...this.#live.values(), ...[...this.#departed.values()].map((gone) => gone.snapshot)]);
  }
}

function keyOf(labels: ProcessLabels): string {
  return `${labels.replica}\0${labels.pid ?? ''}`;
}

/**
 * One registry of `snapshots`. Their series never share labels (each has its replica and
 * pid), so aggregating only merges each metric's series under one name; `sum` whatever
 * aggregator a metric asked for, as prom-client's `omit` would drop some outright.
 */
function oneRegistry(snapshots: MetricsSnapshot[]): Registry<PrometheusContentType> {
  return AggregatorRegistry.aggregate<PrometheusContentType>(
    snapshots.map((snapshot) => snapshot.map((metric) => ({ ...metric, aggregator: 'sum' as const }))),
  );
}

function labelled(snapshot: MetricsSnapshot, labels: ProcessLabels): MetricsSnapshot {
  const own: Record<string, string | number> = { replica: labels.replica };
  if (labels.pid !== undefined) own.pid = labels.pid;
  return snapshot.map((metric) => ({
    ...metric,
    values: metric.values.map((value) => ({
      ...value,
      labels:
        labels.service === undefined || 'service' in value.labels
          ? { ...own, ...value.labels }
          : { ...own, service: labels.service, ...value.labels },
    })),
  }));
}
