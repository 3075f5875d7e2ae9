// Every TaskQueue adapter, each under the one contract (contract.ts): a new adapter is one
// more line here. JetStream's runs against the machine's real NATS.

import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { IpcHub } from '../ipc/hub.ts';
import { MemoryChannel } from '../ipc/fixtures/memory-channel.ts';
import { RpcClient } from '../ipc/rpc-client.ts';
import { TaskBroker } from '../supervisor/task-broker.ts';
import { connectNats, forgetTasks, testApp } from '../../test/helpers/nats.ts';
import { taskQueueContract, type TaskQueueUnderTest } from './contract.ts';
import app from './fixtures/tasks-app.ts';
import { IpcTaskQueue, serveTasks } from './ipc.ts';

import { WorkerTaskQueue } from './worker-pool.ts';

const APP_MODULE = fileURLToPath(new URL('./fixtures/tasks-app.ts', import.meta.url));
const MAX_QUEUE = 4;
const log = pino({ level: 'silent' });
/** Where the worker processes' log lines go: nowhere. */
const quiet = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });

function threads(): WorkerTaskQueue {
  return new WorkerTaskQueue({ app, appModule: APP_MODULE, minThreads: 1, maxThreads: 1, maxQueue: MAX_QUEUE });
}

async function started(queue: WorkerTaskQueue | TaskBroker, stop = () => queue.stop()): Promise<TaskQueueUnderTest> {
  await queue.start();
  return { queue, stop };
}

taskQueueContract('WorkerTaskQueue (threads, cleave dev)', () => started(threads()));

taskQueueContract('TaskBroker (worker processes, cleave start)', () =>
  started(new TaskBroker({ app, appModule: APP_MODULE, log, maxQueue: MAX_QUEUE, out: quiet() })),
);

taskQueueContract('IpcTaskQueue (a replica, through the supervisor’s hub)', async () => {
  const tasks = threads();
  await tasks.start();
  const hub = new IpcHub({ serves: [serveTasks(tasks)], log });
  const { replica, hub: hubEnd } = MemoryChannel.pair();
  hub.attach('replica-1', hubEnd);
  const rpc = new RpcClient(replica, { timeoutMs: 10_000 });
  return {
    queue: new IpcTaskQueue(rpc),
    stop: async () => {
      rpc.close();
      await hub.stop();
      await tasks.stop();
    },
  };
});

taskQueueContract('TaskBroker on NATS JetStream (worker processes, nodes sharing a NATS)', async () => {
  // A name of its own: its streams are apart from any other test's on the same NATS.
  const named = { ...app, name: testApp('contract') };
  const nats = await connectNats();
  const broker = new TaskBroker({
    app: named,
    appModule: APP_MODULE,
    log,
    maxQueue: MAX_QUEUE,
    out: quiet(),
    nats: { connection: nats, ackWaitMs: 5000, maxDeliveries: 2 },
  });
  return started(broker, async () => {
    await broker.stop();
    await forgetTasks(named.name);
    await nats.stop();
  });
});
