// Tasks on JetStream as two nodes see them (two TaskBrokers, each with its own worker process,
// sharing the machine's real NATS): what the contract (contract.ts) can't say of one queue.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import type { NatsConnection } from '../nats/connection.ts';
import { resourceName } from '../nats/subjects.ts';
import { TaskBroker } from '../supervisor/task-broker.ts';
import { connectNats, forgetTasks, testApp } from '../../test/helpers/nats.ts';
import fixture, { type BusyReport } from './fixtures/tasks-app.ts';

const APP_MODULE = fileURLToPath(new URL('./fixtures/tasks-app.ts', import.meta.url));
const ACK_WAIT_MS = 300;
/** A name of its own: its streams are apart from any other test's on the same NATS. */
const app = { ...fixture, name: testApp('jetstream') };

describe('tasks on NATS JetStream, two nodes', { timeout: 30_000 }, () => {
  let nats: NatsConnection;
  let a: TaskBroker;
  let b: TaskBroker;
  const node = (): TaskBroker =>
    new TaskBroker({
      app,
      appModule: APP_MODULE,
      log: pino({ level: 'silent' }),
      maxQueue: 100,
      out: new Writable({ write: (_chunk, _encoding, done) => done() }),
      nats: { connection: nats, ackWaitMs: ACK_WAIT_MS, maxDeliveries: 3 },
    });

  before(async () => {
    nats = await connectNats();
    a = node();
    b = node();
    await Promise.all([a.start(), b.start()]);
  });
  after(async () => {
    await Promise.all([a?.stop(100), b?.stop(100)]);
    await forgetTasks(app.name);
    await nats?.stop();
  });

  it('runs a task far longer than the ack wait once: its worker says it is still at work', async () => {
    // Delivered again, it would go to the other node's idle worker while the first still ran it.
    let mostRunning = 0;
    const watch = setInterval(() => {
      mostRunning = Math.max(mostRunning, a.pools[0]!.running + b.pools[0]!.running);
    }, 10);
    try {
      const report = (await a.run('calc.slow', ACK_WAIT_MS * 4)) as BusyReport;
      assert.ok(report.endedAt - report.startedAt >= ACK_WAIT_MS * 4);
    } finally {
      clearInterval(watch);
    }
    const manager = await jetstreamManager(nats.client);
    const consumer = await manager.consumers.info(resourceName(app.name, 'tasks'), 'calc');
    assert.equal(consumer.num_ack_pending, 0, 'acknowledged');
    assert.equal(mostRunning, 1, 'never delivered again');
  });

  it("counts the tasks waiting on every node in each node's pool load, for the autoscaler", async () => {
    // Two workers (one per node) busy, two waiting in the stream.
    const runs = Array.from({ length: 4 }, () => a.run('calc.slow', 1200));
    const load = (broker: TaskBroker): number =>
      broker.pools[0]!.loads().reduce((sum, replica) => sum + replica.inFlight, 0);
    const deadline = Date.now() + 1150;
    // Read at each delivery and every second: a node's count may run ahead for a moment.
    while ((load(a) !== 3 || load(b) !== 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(load(a), 3, 'its running task and the two waiting');
    assert.equal(load(b), 3);
    await Promise.all(runs);
  });

  it('gives the task of a node that stops before it finishes to another node', async () => {
    const c = node();
    await c.start();
    // One task per node's worker; C is stopped with a grace far shorter than its task.
    const runs = Array.from({ length: 3 }, () => a.run('calc.slow', 1000) as Promise<BusyReport>);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(c.pools[0]!.running, 1, 'C took one');
    await c.stop(50);
    const stoppedAt = Date.now();
    const reports = await Promise.all(runs);
    for (const report of reports) assert.ok(report.endedAt - report.startedAt >= 1000, 'run whole');
    assert.ok(
      reports.some((report) => report.startedAt >= stoppedAt),
      "C's task, cut short, was run again elsewhere after C stopped",
    );
  });
});
