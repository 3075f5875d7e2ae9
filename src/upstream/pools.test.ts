import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LeastInFlight, RoundRobin } from '../balancer/index.ts';
import { Replica } from './replica.ts';
import { UpstreamPools } from './pools.ts';

describe('UpstreamPools', () => {
  let dir = '';
  let server: Server;
  let socketPath = '';
  let releaseSlow: (() => void) | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cleave-pools-'));
    socketPath = join(dir, 'replica.sock');
    server = createServer((req, res) => {
      if (req.url === '/slow') releaseSlow = () => res.end('slow done');
      else res.end('ok');
    });
    server.listen(socketPath);
    await once(server, 'listening');
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("uses each service's own balancer choice, else the default", async () => {
    const pools = new UpstreamPools({ balancerOf: (service) => (service === 'rr' ? 'round-robin' : undefined) });
    pools.add('rr', new Replica('rr#1', { socketPath }));
    pools.add('other', new Replica('other#1', { socketPath }));
    assert.ok(pools.get('rr')?.balancer instanceof RoundRobin);
    assert.ok(pools.get('other')?.balancer instanceof LeastInFlight);
    await pools.close(100);
  });

  it('keeps replicas per service and replaces the array on every change', async () => {
    const pools = new UpstreamPools();
    assert.equal(pools.get('api'), undefined);
    pools.add('api', new Replica('api#1', { socketPath }));
    const pool = pools.get('api');
    const before = pool?.replicas;
    pools.add('api', new Replica('api#2', { socketPath }));
    assert.deepEqual(
      before?.map((replica) => replica.id),
      ['api#1'],
      'a pick made earlier keeps its array',
    );
    assert.deepEqual(
      pool?.replicas.map((replica) => replica.id),
      ['api#1', 'api#2'],
    );
    assert.throws(() => pools.add('api', new Replica('api#2', { socketPath })), RangeError);
    assert.equal(pools.get('admin'), undefined);
    await pools.close();
  });

  it('takes a removed replica out of picks at once and closes its connections after its requests', async () => {
    const pools = new UpstreamPools();
    const replica = new Replica('api#1', { socketPath });
    pools.add('api', replica);
    const pool = pools.get('api');
    const dispatcher = pool?.dispatcherOf(replica);
    assert.ok(dispatcher);
    const slow = dispatcher.request({ method: 'GET', path: '/slow' });
    while (!releaseSlow) await new Promise((resolve) => setTimeout(resolve, 5));
    const removed = pools.remove('api', 'api#1');
    assert.deepEqual(pool?.replicas, []);
    assert.equal(pool?.dispatcherOf(replica), undefined);
    releaseSlow();
    assert.equal(await (await slow).body.text(), 'slow done', 'the request in flight finished');
    await removed;
    await assert.rejects(dispatcher.request({ method: 'GET', path: '/' }), { code: 'UND_ERR_DESTROYED' });
    await pools.close();
  });
});
