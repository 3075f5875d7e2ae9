// The entry of a split-mode replica process: one service of the app, its
// HTTP on a unix socket, its bus, store and locks at the supervisor over IPC.
// Forked by the supervisor with CLEAVE_APP_MODULE, CLEAVE_SERVICE and
// CLEAVE_SOCKET_PATH set; it says `ready` once it listens, and exits with its
// supervisor (never an orphan).

import { performance } from 'node:perf_hooks';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { ConfigError } from '../errors.ts';
import { channelOfProcess } from '../ipc/channel.ts';
import { PROTOCOL_VERSION } from '../ipc/messages.ts';
import { createLogger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { reportMetrics } from '../observability/metrics-report.ts';
import { startTracing } from '../observability/tracing.ts';
import { exitWithParent, roleFromArgv, setTitle } from '../supervisor/child-main.ts';
import { stopOnSignals } from '../cli/signals.ts';
import { loadApp } from './load-app.ts';
import { ipcPorts } from './ports.ts';
import { Runtime } from './runtime.ts';

const LOAD_REPORT_MS = 250;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(name, 'is required in a replica process (the supervisor sets it)');
  return value;
}

const service = required('CLEAVE_SERVICE');
const socketPath = required('CLEAVE_SOCKET_PATH');
setTitle(roleFromArgv() ?? service);
const channel = channelOfProcess();
const config = loadRuntimeConfig();
const log = createLogger({ level: config.LOG_LEVEL, pretty: false });
const { app, modulePath } = await loadApp(required('CLEAVE_APP_MODULE'), config.CLEAVE_TYPESCRIPT);
await startTracing({ serviceName: service, app: app.name, log });
const metrics = new Metrics();
const runtime = new Runtime({
  app,
  appModule: modulePath,
  config,
  log,
  services: [service],
  ports: ipcPorts(channel, log, config, { app: app.name, services: [service] }),
  listen: { path: socketPath },
  metrics,
});
// The last report after the last request: a replica that drains away loses no count.
const lastReport = reportMetrics(channel, metrics);
const stop = () => runtime.stop().finally(lastReport);
exitWithParent({ beforeExit: stop, graceMs: config.CLEAVE_STOP_GRACE_MS });
stopOnSignals(stop, { log, graceMs: config.CLEAVE_STOP_GRACE_MS });
await runtime.start();
channel.send({ cleave: PROTOCOL_VERSION, type: 'ready', service, address: socketPath });
log.info({ service, socket: socketPath }, 'replica ready');
reportLoad();

/** The autoscaler's signals, a few times a second: requests in flight and event-loop utilisation. */
function reportLoad(): void {
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    if (channel.closed) return;
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    channel.send({
      cleave: PROTOCOL_VERSION,
      type: 'load',
      inFlight: Number(runtime.takeMeanInFlight().toFixed(2)),
      eventLoop: Number(utilization.toFixed(3)),
    });
  }, LOAD_REPORT_MS);
  timer.unref();
}
