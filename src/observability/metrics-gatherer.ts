// The supervisor's side of split-mode metrics: every child's latest snapshot, labelled with
// its service and replica, and the supervisor's own, served as one exposition. A child that
// leaves keeps its counts: its counters and histograms are summed into the series of
// `replica="retired"` (its gauges, values of a process that is gone, are dropped), so a
// service's totals never go down when a replica is replaced.

import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage } from '../ipc/messages.ts';
import type { Metrics, MetricsSnapshot } from './metrics.ts';

/** The labels a child's every series gets: `replica`, and `service` unless the series names one. */
export interface ProcessLabels {
  replica: string;
  service?: string;
}

export class MetricsGatherer {
  readonly #own: Metrics;
  readonly #live = new Map<string, MetricsSnapshot>();
  #retired: MetricsSnapshot = [];

  /** `own`: the supervisor's metrics, labelled `replica="supervisor"`. */
  constructor(own: Metrics) {
    this.#own = own;
  }

  /** Takes the snapshots a child sends on `channel` (metrics-report.ts), and retires it once the channel closes. */
  watch(channel: IpcChannel, labels: ProcessLabels): void {
    const stop = channel.onMessage((message) => {
      if (isIpcMessage(message) && message.type === 'metrics') this.update(labels, message.snapshot);
    });
    channel.onClose(() => {
      stop();
      void this.retire(labels.replica);
    });
  }

  /** The latest snapshot of the child `labels.replica`. */
  update(labels: ProcessLabels, snapshot: MetricsSnapshot): void {
    this.#live.set(labels.replica, labelled(snapshot, labels));
  }

  /** The child `replica` is gone: its counts stay, under `replica="retired"`. */
  async retire(replica: string): Promise<void> {
    const last = this.#live.get(replica);
    if (last === undefined) return;
    this.#live.delete(replica);
    const counts = last
      // prom-client's JSON says 'gauge'; its types say an enum.
      .filter((metric) => (metric.type as unknown as string) !== 'gauge')
      .map((metric) => ({
        ...metric,
        values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, replica: 'retired' } })),
      }));
    this.#retired = await sumOf([this.#retired, counts]).getMetricsAsJSON();
  }

  /** Every process's metrics as one Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    const own = labelled(await this.#own.snapshot(), { replica: 'supervisor' });
    const registry = sumOf([own, ...this.#live.values(), this.#retired]);
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
}

/**
 * One registry of `snapshots`, series with the same name and labels summed. Every series is
 * summed, whatever aggregator a metric asked for: the replica label keeps two processes'
 * series apart, and only the retired, all counts, ever meet.
 */
function sumOf(snapshots: MetricsSnapshot[]): Registry<PrometheusContentType> {
  return AggregatorRegistry.aggregate<PrometheusContentType>(
    snapshots.map((snapshot) => snapshot.map((metric) => ({ ...metric, aggregator: 'sum' as const }))),
  );
}

function labelled(snapshot: MetricsSnapshot, labels: ProcessLabels): MetricsSnapshot {
  return snapshot.map((metric) => ({
    ...metric,
    values: metric.values.map((value) => ({
      ...value,
      labels:
        labels.service === undefined || 'service' in value.labels
          ? { replica: labels.replica, ...value.labels }
          : { replica: labels.replica, service: labels.service, ...value.labels },
    })),
  }));
}
