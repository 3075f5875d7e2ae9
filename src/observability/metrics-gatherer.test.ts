import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seriesOf, sumOf } from '../../test/helpers/prometheus.ts';
import type { PoolStatus } from '../supervisor/status.ts';
import { Metrics } from './metrics.ts';
import { MetricsGatherer } from './metrics-gatherer.ts';

/** A replica's metrics after `count` requests to GET /items. */
function replicaWith(count: number): Metrics {
  const metrics = new Metrics({ defaults: false });
  for (let i = 0; i < count; i++) {
    metrics.requestEnded({
      service: 'shop',
      route: '/items',
      method: 'GET',
      status: 200,
      seconds: 0.002,
      requestId: `r${i}`,
      path: '/items',
    });
  }
  return metrics;
}

/** A pool of shop with `ready` processes, all ready, as the supervisor's status says. */
function poolOf(kind: PoolStatus['kind'], ready: number): PoolStatus {
  return {
    service: 'shop',
    kind,
    replicas: { ready, now: ready, desired: ready, min: 1, max: 4 },
    inFlight: 0,
    eventLoop: 0.1,
    queueDepth: 0,
    standby: 0,
    target: { eventLoop: 0.7 },
    downAfterMs: 30_000,
    scaled: { up: 1, down: 0 },
  } as PoolStatus;
}

describe('MetricsGatherer', () => {
  it("labels each process's series with its replica, and its service where the series names none", async () => {
    const supervisor = new Metrics({ defaults: false });
    supervisor.observePools(() => [poolOf('requests', 2)]);
    const gatherer = new MetricsGatherer(supervisor);
    gatherer.update({ replica: 'shop#1', service: 'shop' }, await replicaWith(3).snapshot());
    gatherer.update({ replica: 'shop#2', service: 'shop' }, await replicaWith(4).snapshot());
    const { text, contentType } = await gatherer.exposition();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(sumOf(text, 'cleave_http_requests_total', { replica: 'shop#1' }), 3);
    assert.equal(sumOf(text, 'cleave_http_requests_total', { service: 'shop' }), 7);
    assert.equal(sumOf(text, 'cleave_http_request_duration_seconds_bucket', { le: '0.005' }), 7);
    assert.equal(sumOf(text, 'cleave_pool_scale_decisions_total', { service: 'shop', direction: 'up' }), 1);
    assert.equal(sumOf(text, 'cleave_pool_event_loop_utilization', { kind: 'requests' }), 0.1);
    assert.deepEqual(seriesOf(text, 'cleave_pool_replicas')[0], {
      replica: 'supervisor',
      pid: String(process.pid),
      service: 'shop',
      kind: 'requests',
      state: 'ready',
    });
  });

  it("keeps a gone process's last counts, apart from its successor's, for a while, and drops its gauges", async () => {
    const supervisor = new Metrics({ defaults: false });
    const gatherer = new MetricsGatherer(supervisor, { lingerMs: 200 });
    const withGauge = async (count: number) => {
      const metrics = replicaWith(count);
      metrics.observePools(() => [poolOf('tasks', 1)]);
      return metrics.snapshot();
    };
    gatherer.update({ replica: 'shop#1', pid: 101, service: 'shop' }, await withGauge(3));
    gatherer.update({ replica: 'shop#2', pid: 102, service: 'shop' }, await withGauge(2));
    // Both go in the same turn; shop#1 is started again, as pid 103.
    gatherer.departed({ replica: 'shop#1', pid: 101 });
    gatherer.departed({ replica: 'shop#2', pid: 102 });
    gatherer.update({ replica: 'shop#1', pid: 103, service: 'shop' }, await withGauge(1));
    const { text } = await gatherer.exposition();
    assert.equal(sumOf(text, 'cleave_http_requests_total', { replica: 'shop#1', pid: '101' }), 3);
    assert.equal(sumOf(text, 'cleave_http_requests_total', { replica: 'shop#1', pid: '103' }), 1);
    assert.equal(sumOf(text, 'cleave_http_requests_total', { service: 'shop' }), 6, 'nothing lost');
    assert.equal(sumOf(text, 'cleave_http_request_duration_seconds_count', { pid: '102' }), 2);
    assert.deepEqual(
      [...new Set(seriesOf(text, 'cleave_pool_replicas').map((labels) => labels.pid))],
      ['103'],
      "a gone process's gauges are gone",
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    const later = (await gatherer.exposition()).text;
    assert.equal(sumOf(later, 'cleave_http_requests_total', { service: 'shop' }), 1, 'gone once they expire');
  });
});
