// The entry of a task worker process in split mode (`cleave auth/tasks#1`): it loads the
// app and runs one task at a time for the supervisor's queue, on its own main thread — the
// process exists for that, so blocking it is the point. It lowers its own scheduling priority
// first: on a machine whose cores are all busy, the processes answering requests get the CPU
// before a storm of hashing does, which is what keeps light routes fast under heavy work.

import { setPriority } from 'node:os';
import { findTask } from '../app/app.ts';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { ConfigError, TaskFailedError, TaskNotFoundError } from '../errors.ts';
import { channelOfProcess } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION, type TaskRunMessage } from '../ipc/messages.ts';
import { createLogger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { reportMetrics } from '../observability/metrics-report.ts';
import { loadApp } from '../runtime/load-app.ts';
import { toWire } from '../shared/error-wire.ts';
import { stopOnSignals } from '../cli/signals.ts';
import { exitWithParent, roleFromArgv, setTitle } from '../supervisor/child-main.ts';
import { consuming, startTracing } from '../observability/tracing.ts';

const service = process.env.CLEAVE_SERVICE;
const appModule = process.env.CLEAVE_APP_MODULE;
if (!service || !appModule) {
  throw new ConfigError(
    'CLEAVE_SERVICE',
    'and CLEAVE_APP_MODULE are required in a task worker (the supervisor sets them)',
  );
}
setTitle(roleFromArgv() ?? `${service}/tasks`);
const config = loadRuntimeConfig();
const log = createLogger({ level: config.LOG_LEVEL, pretty: false });
try {
  setPriority(config.CLEAVE_TASK_NICE);
} catch (err) {
  log.warn({ err }, 'could not lower this task worker’s priority');
}
const channel = channelOfProcess();
const { app } = await loadApp(appModule, config.CLEAVE_TYPESCRIPT);
await startTracing({ serviceName: service, app: app.name, log });
const metrics = new Metrics();

let running: Promise<void> = Promise.resolve();
channel.onMessage((message) => {
  if (!isIpcMessage(message) || message.type !== 'task-run') return;
  // The supervisor sends one at a time; a chain keeps order if it ever sends more.
  running = running.then(() => run(message));
});

async function run({ job, task, input, trace }: TaskRunMessage): Promise<void> {
  const definition = findTask(app, task);
  const started = performance.now();
  const ran = (ok: boolean) => metrics.taskRan(service as string, task, ok, (performance.now() - started) / 1000);
  try {
    if (!definition) throw new TaskNotFoundError(`no task "${task}" in the app as a task worker loads it`);
    // A span of the task, the child of the one that ran it: the task's own spans and log lines join it.
    const output = await consuming(`task ${task}`, { 'cleave.task': task, 'cleave.service': service }, trace, () =>
      definition.handler(input),
    );
    ran(true);
    channel.send({ cleave: PROTOCOL_VERSION, type: 'task-result', job, ok: true, output });
  } catch (error) {
    ran(false);
    const failure =
      error instanceof TaskNotFoundError
        ? error
        : new TaskFailedError(task, error instanceof Error ? error.message : String(error), { cause: error });
    if (!(error instanceof TaskNotFoundError)) log.warn({ err: error, task }, 'task failed');
    try {
      channel.send({ cleave: PROTOCOL_VERSION, type: 'task-result', job, ok: false, error: toWire(failure) });
    } catch {
      // The output could not be serialised; say so instead of leaving the job waiting.
      const unsendable = new TaskFailedError(task, 'its output cannot cross to the caller (not structured-cloneable)');
      channel.send({ cleave: PROTOCOL_VERSION, type: 'task-result', job, ok: false, error: toWire(unsendable) });
    }
  }
}

const lastReport = reportMetrics(channel, metrics);
exitWithParent({ beforeExit: () => running.finally(lastReport), graceMs: 1000 });
stopOnSignals(() => running.finally(lastReport), { log, graceMs: config.CLEAVE_STOP_GRACE_MS });
channel.send({ cleave: PROTOCOL_VERSION, type: 'ready', service, address: '' });
log.debug({ service }, 'task worker ready');
