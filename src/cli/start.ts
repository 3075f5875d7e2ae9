// `cleave start <app-dir>`: the app split. This process is the supervisor
// (one store, the event hub, a pool of replica processes per service) and the
// gateway on PORT, which routes each request to a replica of its service.

import type { AddressInfo } from 'node:net';
import type { App } from '../app/app.ts';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { TrustedProxies } from '../gateway/forwarded.ts';
import { UpstreamPools } from '../gateway/pools.ts';
import { createProxy } from '../gateway/proxy.ts';
import { UpgradeProxy } from '../gateway/upgrade.ts';
import { Router } from '../http/router.ts';
import { HttpServer } from '../http/server.ts';
import { createLogger } from '../observability/logger.ts';
import { loadApp } from '../runtime/load-app.ts';
import type { ReplicaRegistry } from '../supervisor/service-pool.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { Replica } from '../upstream/replica.ts';
import { stopOnSignals } from './signals.ts';

export interface StartOptions {
  appDir: string;
  port?: number;
}

export async function start(options: StartOptions): Promise<void> {
  const env = options.port === undefined ? process.env : { ...process.env, PORT: String(options.port) };
  const config = loadRuntimeConfig(env);
  // The supervisor runs in the gateway's process for now; replicas are `cleave <service>#<n>`.
  process.title = 'cleave gateway';
  const log = createLogger({ level: config.LOG_LEVEL, base: { role: 'gateway' } });
  const { app, modulePath } = await loadApp(options.appDir);

  const pools = new UpstreamPools({
    balancerOf: (service) => app.services.find((candidate) => candidate.name === service)?.balancer,
  });
  const registry: ReplicaRegistry = {
    ready: (service, replica) => pools.add(service, new Replica(replica.id, { socketPath: replica.socketPath })),
    gone: (service, id) => void pools.remove(service, id),
  };
  const supervisor = new Supervisor({ app, appModule: modulePath, config, log, registry });
  const router = new Router(app);
  const trustedProxies = new TrustedProxies(
    (config.CLEAVE_TRUSTED_PROXIES ?? '')
      .split(',')
      .map((ip) => ip.trim())
      .filter(Boolean),
  );
  const server = new HttpServer({
    pipeline: createProxy({ router, pools, log, trustedProxies, accessLog: config.CLEAVE_ACCESS_LOG }),
    hub: new UpgradeProxy({ router, pools, log, trustedProxies }),
    log,
    listen: { port: config.PORT, host: config.HOST },
  });
  const grace = config.CLEAVE_STOP_GRACE_MS;
  stopOnSignals(
    async () => {
      // Stop taking requests and finish the ones in flight, then stop the replicas behind them.
      await server.stop(grace);
      await supervisor.stop(grace);
      await pools.close(1000);
    },
    { log, graceMs: grace * 2 },
  );

  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.stop(1000).catch(() => {});
    throw error;
  }
  const address = (await server.listen()) as AddressInfo;
  printPlan(app, address.port);
  const host = address.family === 'IPv6' && address.address === '::' ? 'localhost' : address.address;
  log.info({ app: app.name, mode: 'split', port: address.port }, `listening on http://${host}:${address.port}`);
}

/** What runs where, for the person who typed the command (stderr keeps stdout pure JSON). */
function printPlan(app: App, port: number): void {
  const lines = app.services.map((service) => {
    const routes = [
      ...service.routes.map((route) => `${route.method} ${route.path}`),
      ...service.statics.map((folder) => `static ${folder.prefix}`),
      ...service.sockets.map((socket) => `ws ${socket.path}`),
    ];
    const replicas = service.scale.min === 1 ? '1 replica' : `${service.scale.min} replicas`;
    return `  ${service.name.padEnd(12)} ${replicas.padEnd(11)} ${routes.join(', ') || '(no routes)'}`;
  });
  process.stderr.write(`cleave: ${app.name} split into ${app.services.length} pools\n${lines.join('\n')}\n`);
  process.stderr.write(`cleave: http://localhost:${port}\n`);
}
