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

  async function node(
    app: string,
    id: string,
    ready = 1,
    options: { heartbeatMs?: number; onChange?: () => void } = {},
  ): Promise<{ directory: NatsDirectory; nats: NatsConnection; info: NodeInfo }> {
    const nats = await connectNats();
    connections.push(nats);
    const info: NodeInfo = {
      id,
      address: `127.0.0.1:${3000 + directories.length}`,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      pools: [{ service: 'posts', kind: 'requests', ready, now: ready }],
    };
    const directory = new NatsDirectory(nats, {
      app,
      self: () => info,
      log,
      heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
      ...(options.onChange ? { onChange: options.onChange } : {}),
    });
    directory.start();
    directories.push(directory);
    return { directory, nats, info };
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

  it('tells its listener when another node says its pools changed, announced between heartbeats', async () => {
    const app = testApp('nodes');
    const slow = { heartbeatMs: 60_000 };
    let changes = 0;
    const a = await node(app, 'a', 1, { ...slow, onChange: () => (changes += 1) });
    const b = await node(app, 'b', 1, slow);
    // Each started with a heartbeat; b's first reached a only if a already listened.
    b.directory.announce();
    await listing(a.directory, ['a', 'b']);
    const heard = changes;
    assert.ok(heard >= 1, 'a new node is a change');
    b.directory.announce();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(changes, heard, 'the same pools again are no change');
    b.info.pools = [{ service: 'posts', kind: 'requests', ready: 0, now: 1 }];
    b.directory.announce();
    await until(() => (a.directory.nodes()[1]?.pools[0]?.ready === 0 ? true : undefined), 1000, "b's pool empty");
    assert.equal(changes, heard + 1);
    await b.directory.stop();
    await until(() => (changes === heard + 2 ? true : undefined), 1000, "b's leaving, a change");
  });
});
