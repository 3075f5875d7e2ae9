// The nodes of an app over the machine's real NATS: each directory is a node with a
// connection of its own, as on separate machines.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { connectNats, testApp } from '../../test/helpers/nats.ts';
import { until } from '../../test/helpers/wait.ts';
import type { NatsConnection } from '../nats/connection.ts';
import { NatsDirectory } from './nats-directory.ts';
import type { NodeInfo } from './node.ts';

const log = pino({ level: 'silent' });
const HEARTBEAT_MS = 100;

describe('NatsDirectory', () => {
  const connections: NatsConnection[] = [];
  const directories: NatsDirectory[] = [];
  after(async () => {
    await Promise.all(directories.map((directory) => directory.stop()));
    await Promise.all(connections.map((connection) => connection.stop()));
  });

  async function node(app: string, id: string, ready = 1): Promise<{ directory: NatsDirectory; nats: NatsConnection }> {
    const nats = await connectNats();
    connections.push(nats);
    const info: NodeInfo = {
      id,
      address: `127.0.0.1:${3000 + directories.length}`,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      pools: [{ service: 'posts', kind: 'requests', ready, now: ready }],
    };
    const directory = new NatsDirectory(nats, { app, self: () => info, log, heartbeatMs: HEARTBEAT_MS });
    directory.start();
    directories.push(directory);
    return { directory, nats };
  }

  const ids = (directory: NatsDirectory) => directory.nodes().map((listed) => listed.id);
  const listing = (directory: NatsDirectory, expected: string[]) =>
    until(
      () => (JSON.stringify(ids(directory)) === JSON.stringify(expected) ? true : undefined),
      3000,
      `the list ${expected.join(', ')} (have ${ids(directory).join(', ')})`,
    );

  it('lists itself first, then every other node of the app with what it runs', async () => {
    const app = testApp('nodes');
    const a = await node(app, 'a');
    await node(app, 'c', 2);
    await node(app, 'b');
    await listing(a.directory, ['a', 'b', 'c']);
    const [self, , c] = a.directory.nodes();
    assert.equal(self?.self, true);
    assert.ok(c);
    assert.equal(c.self, false);
    assert.deepEqual(c.pools, [{ service: 'posts', kind: 'requests', ready: 2, now: 2 }]);
    assert.ok(Date.now() - Date.parse(c.lastSeen) < 1000);
  });

  it('hears no node of another app on the same NATS', async () => {
    const a = await node(testApp('nodes'), 'a');
    await node(testApp('nodes'), 'b');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 3));
    assert.deepEqual(ids(a.directory), ['a']);
  });

  it('drops a node that stops at once, and one that goes silent after three missed heartbeats', async () => {
    const app = testApp('nodes');
    const a = await node(app, 'a');
    const b = await node(app, 'b');
    const c = await node(app, 'c');
    await listing(a.directory, ['a', 'b', 'c']);
    const stoppedAt = Date.now();
    await b.directory.stop();
    await listing(a.directory, ['a', 'c']);
    assert.ok(Date.now() - stoppedAt < HEARTBEAT_MS * 2, 'a stop is heard, not waited out');
    // Killed: no goodbye, the connection just ends.
    const silentAt = Date.now();
    await c.nats.client.close();
    await listing(a.directory, ['a']);
    const waited = Date.now() - silentAt;
    assert.ok(waited >= HEARTBEAT_MS * 2, `dropped after ${waited} ms: not before it missed its heartbeats`);
  });
});
