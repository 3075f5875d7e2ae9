import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DashboardFrames, quantile } from './dashboard-frames.ts';
import { Metrics } from './metrics.ts';

describe('quantile', () => {
  it('interpolates within the bucket the rank falls in, as histogram_quantile does', () => {
    const buckets = new Map([
      [0.01, 50],
      [0.1, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    assert.equal(quantile(0.5, buckets), 0.01);
    assert.ok(Math.abs((quantile(0.7, buckets) as number) - 0.055) < 1e-9);
    assert.ok(Math.abs((quantile(0.99, buckets) as number) - 0.91) < 1e-9);
  });

  it('is null with nothing counted, and the highest bound when the rank is past it', () => {
    assert.equal(quantile(0.5, new Map([[Infinity, 0]])), null);
    assert.equal(
      quantile(
        0.99,
        new Map([
          [1, 1],
          [Infinity, 10],
        ]),
      ),
      1,
    );
  });
});

describe('DashboardFrames', () => {
  it("gives each route's rate, 5xx rate and percentiles over the interval between two snapshots", async () => {
    const metrics = new Metrics();
    const frames = new DashboardFrames('shop');
    const request = (route: string, status: number, seconds: number) =>
      metrics.requestEnded({
        service: 'api',
        route,
        method: 'GET',
        status,
        seconds,
        requestId: `${route}-${status}-${seconds}`,
        path: route,
      });
    request('/old', 200, 0.002); // before the first snapshot: no part of any rate
    const first = frames.next(await metrics.snapshot(), undefined, [], 1_000);
    assert.equal(first.requestRate, 0);
    assert.equal(first.mode, 'monolith');
    for (let i = 0; i < 18; i++) request('/items/:id', 200, 0.004);
    request('/items/:id', 503, 0.004);
    request('/items/:id', 200, 2);
    request('/login', 429, 0.001);
    const second = frames.next(await metrics.snapshot(), undefined, metrics.recentErrors.list(), 3_000);
    const items = second.routes.find((route) => route.route === '/items/:id');
    assert.ok(items);
    assert.equal(items.rate, 10, '20 requests in 2 s');
    assert.equal(items.errorRate, 0.5);
    assert.ok((items.p50 as number) > 0.0025 && (items.p50 as number) <= 0.005, `p50 ${items.p50}`);
    assert.ok((items.p99 as number) > 1, `p99 ${items.p99} counts the 2 s request`);
    assert.equal(second.routes[0]?.route, '/items/:id', 'busiest first');
    assert.equal(second.requestRate, 10.5);
    assert.equal(second.rateLimitedRate, 0.5);
    assert.equal(second.routes.find((route) => route.route === '/old')?.rate, 0);
    assert.deepEqual(
      second.errors.map((error) => [error.status, error.requestId, error.path]),
      [[503, '/items/:id-503-0.004', '/items/:id']],
      'the 5xx listed with its request id, no 4xx',
    );
    const own = second.processes[0];
    assert.equal(own?.replica, 'shop', "cleave dev's one process, named after the app");
    assert.ok((own?.memoryBytes ?? 0) > 0);
  });
});
