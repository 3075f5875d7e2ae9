// Consistent hashing on the client address through the gateway, with real replica processes:
// an address keeps its replica, addresses spread over the pool, and when a replica leaves
// only its clients move. Clients come from several loopback addresses (127.0.0.x).

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ReplicaCluster, type RunningGateway, startGateway } from '../fixtures/gateway-app/harness.ts';

function pidFrom(port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/pid', localAddress: address, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { pid: number }).pid));
    });
    req.on('error', reject);
    req.end();
  });
}

const addresses = Array.from({ length: 24 }, (_, i) => `127.0.0.${i + 10}`);

describe('sticky sessions: consistent hash on the client address', { timeout: 60_000 }, () => {
  const cluster = new ReplicaCluster();
  let gateway: RunningGateway;

  before(async () => {
    await cluster.start({ api: 3 });
    gateway = await startGateway(cluster.replicas, { balancer: 'consistent-hash' });
  });
  after(async () => {
    await gateway?.stop();
    await cluster.stop();
  });

  it('keeps each address on one replica, spreads addresses, and moves only the clients of one that leaves', async () => {
    const owner = new Map<string, number>();
    for (const address of addresses) owner.set(address, await pidFrom(gateway.port, address));
    for (const address of addresses) {
      for (let i = 0; i < 3; i++) assert.equal(await pidFrom(gateway.port, address), owner.get(address), address);
    }
    assert.equal(new Set(owner.values()).size, 3, 'the addresses use every replica');

    // One replica leaves the pool (as on scale-down): its clients move, nobody else does.
    const leaving = cluster.of('api')[0];
    assert.ok(leaving);
    const leavingPid = leaving.child.pid;
    await gateway.pools.remove('api', leaving.id);
    for (const address of addresses) {
      const now = await pidFrom(gateway.port, address);
      if (owner.get(address) === leavingPid) assert.notEqual(now, leavingPid, `${address} moved`);
      else assert.equal(now, owner.get(address), `${address} stayed`);
    }
  });
});
