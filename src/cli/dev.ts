// `cleave dev <app-dir>`: every service in one process on PORT.

import type { AddressInfo } from 'node:net';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { AdminListener, urlOf } from '../observability/admin-listener.ts';
import { Dashboard } from '../observability/dashboard.ts';
import { createLogger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { Runtime } from '../runtime/runtime.ts';
import { startTracing } from '../observability/tracing.ts';
import { loadApp } from '../runtime/load-app.ts';
import { stopOnSignals } from './signals.ts';

export interface DevOptions {
  appDir: string;
  port?: number;
}

export async function dev(options: DevOptions): Promise<void> {
  const env = options.port === undefined ? process.env : { ...process.env, PORT: String(options.port) };
  const config = loadRuntimeConfig(env);
  process.title = 'cleave dev';
  const log = createLogger({ level: config.LOG_LEVEL });
  const { app, modulePath } = await loadApp(options.appDir, config.CLEAVE_TYPESCRIPT);
  await startTracing({ serviceName: app.name, app: app.name, log });
  const metrics = new Metrics();
  const runtime = new Runtime({ app, appModule: modulePath, config, log, metrics });
  const admin = new AdminListener({
    host: config.CLEAVE_ADMIN_HOST,
    port: config.CLEAVE_ADMIN_PORT,
    log,
    metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.text() }),
    dashboard: new Dashboard(
      { app: app.name, metrics: () => metrics.snapshot(), errors: () => metrics.recentErrors.list() },
      log,
    ),
  });
  const stop = () => runtime.stop().finally(() => admin.close());
  stopOnSignals(stop, { log, graceMs: config.CLEAVE_STOP_GRACE_MS });
  let address: AddressInfo;
  let adminAddress: AddressInfo;
  try {
    // A TCP listener (PORT/HOST), so the address is never a socket path.
    address = (await runtime.start()) as AddressInfo;
    adminAddress = await admin.listen();
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const host = address.family === 'IPv6' && address.address === '::' ? 'localhost' : address.address;
  const services = app.services.map((service) => ({
    name: service.name,
    routes: service.routes.length,
    sockets: service.sockets.length,
    static: service.statics.length,
    crons: service.crons.length,
    tasks: service.tasks.size,
  }));
  log.info(
    {
      app: app.name,
      mode: 'monolith',
      port: address.port,
      services,
      metrics: `${urlOf(adminAddress)}/metrics`,
      dashboard: `${urlOf(adminAddress)}/dashboard`,
    },
    `listening on ${config.CLEAVE_TLS || config.CLEAVE_TLS_CERT ? 'https' : 'http'}://${host}:${address.port}`,
  );
}
