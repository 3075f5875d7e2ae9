import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeStatus } from '../discovery/node.ts';
import { RemoteNodes } from './remote-nodes.ts';
import type { ReplicaAddress } from './replica.ts';

const node = (id: string, nodeAddress: string | undefined, pools: Array<[string, number]>): NodeStatus => ({
  id,
  address: '10.0.0.1:3000',
  ...(nodeAddress ? { nodeAddress } : {}),
  pid: 1,
  startedAt: '',
  lastSeen: '',
  self: false,
  pools: pools.map(([service, ready]) => ({ service, kind: 'requests' as const, ready, now: ready })),
});

function watch(here: string[]) {
  let nodes: NodeStatus[] = [];
  const told: string[] = [];
  const remote = new RemoteNodes({
    nodes: () => nodes,
    here: new Set(here),
    up: (service, id, address: ReplicaAddress) => told.push(`up ${service} ${id} ${JSON.stringify(address)}`),
    down: (service, id) => told.push(`down ${service} ${id}`),
  });
  return {
    told,
    set(next: NodeStatus[]) {
      nodes = next;
      told.length = 0;
      remote.sync();
      return [...told];
    },
  };
}

describe('RemoteNodes: the services this node does not run, on the nodes that do', () => {
  it('adds each node running a service not run here as one replica at its node listener, over TLS', () => {
    const nodes = watch(['web', 'auth']);
    assert.deepEqual(
      nodes.set([
        node('b', '10.0.0.2:3001', [
          ['posts', 2],
          ['auth', 1],
        ]),
        node('c', '[fd00::3]:3001', [['posts', 1]]),
      ]),
      [
        'up posts node:b {"host":"10.0.0.2","port":3001,"tls":true}',
        'up posts node:c {"host":"fd00::3","port":3001,"tls":true}',
      ],
    );
    // Nothing changed: nothing told.
    assert.deepEqual(
      nodes.set([node('b', '10.0.0.2:3001', [['posts', 2]]), node('c', '[fd00::3]:3001', [['posts', 1]])]),
      [],
    );
  });

  it('takes a node out when it leaves, stops running the service, has no ready replica, or moves its listener', () => {
    const nodes = watch([]);
    nodes.set([
      node('b', '10.0.0.2:3001', [
        ['posts', 1],
        ['chat', 1],
      ]),
    ]);
    assert.deepEqual(
      nodes.set([
        node('b', '10.0.0.2:3001', [
          ['posts', 0],
          ['chat', 1],
        ]),
      ]),
      ['down posts node:b'],
    );
    assert.deepEqual(nodes.set([node('b', '10.0.0.2:4001', [['chat', 1]])]), [
      'down chat node:b',
      'up chat node:b {"host":"10.0.0.2","port":4001,"tls":true}',
    ]);
    assert.deepEqual(nodes.set([]), ['down chat node:b']);
  });

  it('ignores nodes without a node listener, and this node itself', () => {
    const nodes = watch([]);
    assert.deepEqual(
      nodes.set([node('b', undefined, [['posts', 1]]), { ...node('a', '10.0.0.1:3001', [['web', 1]]), self: true }]),
      [],
    );
  });
});
