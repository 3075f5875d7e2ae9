// `cleave start <app-dir>`: the app split. This process is the supervisor (`cleave
// supervisor`: one store, the event hub, a pool of replica processes per service) and it
// runs the gateway (`cleave gateway`) on PORT, which routes each request to a replica of
// its service.

import type { App } from '../app/app.ts';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { loadClusterTls, loadTls } from '../http/tls.ts';
import { checkRateLimitEnv } from '../ratelimit/policy.ts';
import { createLogger } from '../observability/logger.ts';
import { loadApp } from '../runtime/load-app.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { stopOnSignals } from './signals.ts';

export interface StartOptions {
  appDir: string;
  port?: number;
}

export async function start(options: StartOptions): Promise<void> {
  if (options.port !== undefined) process.env.PORT = String(options.port);
  const config = loadRuntimeConfig();
  checkRateLimitEnv(config);
  // Here, not only in the gateway: a bad path (here or for the node listener) is one line now, and a self-signed certificate
  // is made once, before the gateway (and any restart of it) reads it.
  const tls = await loadTls(config);
  await loadClusterTls(config);
  process.title = 'cleave supervisor';
  const log = createLogger({ level: config.LOG_LEVEL, base: { role: 'supervisor' } });
  const { app, modulePath } = await loadApp(options.appDir, config.CLEAVE_TYPESCRIPT);

  const supervisor = new Supervisor({ app, appModule: modulePath, config, log, gateway: true });
  const grace = config.CLEAVE_STOP_GRACE_MS;
  // The gateway finishes its requests, then the replicas theirs: two graces at most.
  stopOnSignals(() => supervisor.stop(grace), { log, graceMs: grace * 2 });

  let address;
  try {
    address = await supervisor.start();
  } catch (error) {
    await supervisor.stop(1000).catch(() => {});
    throw error;
  }
  const port = address?.port ?? config.PORT;
  const scheme = tls ? 'https' : 'http';
  printPlan(app, supervisor, `${scheme}://localhost:${port}`);
  const host = address?.host === '::' || address?.host === undefined ? 'localhost' : address.host;
  const admin = supervisor.adminUrl;
  log.info(
    {
      app: app.name,
      mode: 'split',
      port,
      ...(admin ? { metrics: `${admin}/metrics`, dashboard: `${admin}/dashboard` } : {}),
    },
    `listening on ${scheme}://${host}:${port}`,
  );
}

/** What runs where, for the person who typed the command (stderr keeps stdout pure JSON). */
function printPlan(app: App, supervisor: Supervisor, url: string): void {
  const here = supervisor.services;
  const lines = here.map((service) => {
    const routes = [
      ...service.routes.map((route) => `${route.method} ${route.path}`),
      ...service.statics.map((folder) => `static ${folder.prefix}`),
      ...service.sockets.map((socket) => `ws ${socket.path}`),
    ];
    const size = supervisor.pools.find((pool) => pool.service === service.name)?.size ?? 0;
    const replicas = size === 1 ? '1 replica' : `${size} replicas`;
    return `  ${service.name.padEnd(12)} ${replicas.padEnd(11)} ${routes.join(', ') || '(no routes)'}`;
  });
  const elsewhere = app.services.filter((service) => !here.includes(service)).map((service) => service.name);
  if (elsewhere.length > 0) lines.push(`  on other nodes: ${elsewhere.join(', ')}`);
  process.stderr.write(`cleave: ${app.name} split into ${here.length} pools and a gateway\n${lines.join('\n')}\n`);
  process.stderr.write(`cleave: ${url}\n`);
  const admin = supervisor.adminUrl;
  if (admin) process.stderr.write(`cleave: dashboard on ${admin}/dashboard, metrics on ${admin}/metrics\n`);
}
