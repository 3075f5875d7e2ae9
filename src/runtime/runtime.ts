// One process's share of an app: some or all of its services behind the
// request pipeline, talking to the rest of the world through ports. The
// monolith runs every service with embedded ports on a TCP port; a split-mode
// replica runs one service with IPC ports on a unix socket. Start builds the
// ports first and opens the listener last; stop runs it backwards.

import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { App } from '../app/app.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { CronScheduler } from '../cron/scheduler.ts';
import { AppDefinitionError } from '../errors.ts';
import { Authenticator } from '../http/auth.ts';
import { TrustedProxies } from '../gateway/forwarded.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { loadTls } from '../http/tls.ts';
import { createRequestHandler } from '../http/request-handler.ts';
import { Router } from '../http/router.ts';
import { HttpServer, type ListenTarget } from '../http/server.ts';
import { SocketHub, ws } from '../http/websocket.ts';
import { send } from '../http/static.ts';
import { WorkerTaskQueue } from '../queue/worker-pool.ts';
import type { TaskQueue } from '../queue/types.ts';
import { embeddedPorts, type Ports } from './ports.ts';
import { responseCacheOf } from '../cache/response-cache.ts';
import { subscribeInvalidations } from '../cache/invalidation.ts';
import { ActionCaller } from '../calls/action-caller.ts';
import { CallServer, callSocketOf } from '../calls/call-server.ts';
import { NatsResponder } from '../calls/nats-responder.ts';
import type { CallWithMeta } from '../calls/call-context.ts';
import { ServiceContexts } from './service-contexts.ts';
import type { Metrics } from '../observability/metrics.ts';
import { consuming, type TraceCarrier } from '../observability/tracing.ts';

export interface RuntimeOptions {
  app: App;
  /** Path of the module whose default export is `app`: task workers load it. */
  appModule: string;
  config: RuntimeConfig;
  log: Logger;
  /** The services this process runs. @default every service of the app */
  services?: readonly string[];
  /** @default embedded ports (memory bus and locks, the store CLEAVE_STORE names) */
  ports?: Ports;
  /** @default { port: config.PORT, host: config.HOST } */
  listen?: ListenTarget;
  /** Counts and times the requests this process answers; none when absent. */
  metrics?: Metrics;
}

export class Runtime {
  private ports: Ports | undefined;
  private queue: TaskQueue | undefined;
  private cron: CronScheduler | undefined;
  private server: HttpServer | undefined;
  private callServer: CallServer | undefined;
  private natsResponder: NatsResponder | undefined;
  private unsubscribers: Array<() => void> = [];
  private readonly app: App;

  private readonly options: RuntimeOptions;

  constructor(options: RuntimeOptions) {
    this.options = options;
    this.app = servicesOf(options.app, options.services);
  }

  async start(): Promise<AddressInfo | string> {
    const { config, log } = this.options;
    const app = this.app;
    // Everything that can refuse the configuration runs before anything starts.
    app.config?.load();
    const auth = new Authenticator(config.CLEAVE_SECRET === undefined ? {} : { secret: config.CLEAVE_SECRET });
    if (auth.ephemeral) log.warn('CLEAVE_SECRET is not set: sessions use a random key and end when the process stops');
    const router = new Router(app);

    const ports =
      this.options.ports ??
      embeddedPorts(config, log, { app: app.name, services: app.services.map((service) => service.name) });
    this.ports = ports;
    await ports.start();
    await ports.bus.start();
    await ports.store.start();
    // Split: the supervisor's worker pools, reached over IPC. Together: this process's threads.
    this.queue =
      ports.tasks ??
      new WorkerTaskQueue({
        // The whole app: a service may run a task another service declares.
        app: this.options.app,
        appModule: this.options.appModule,
        typescript: config.CLEAVE_TYPESCRIPT,
        log,
        stopTimeoutMs: config.CLEAVE_STOP_GRACE_MS,
        maxQueue: config.CLEAVE_TASK_QUEUE_MAX,
        ...(config.CLEAVE_TASK_THREADS > 0 ? { maxThreads: config.CLEAVE_TASK_THREADS } : {}),
      });
    await this.queue.start();

    const local = new Set(app.services.map((service) => service.name));
    const { metrics } = this.options;
    const caller: ActionCaller = new ActionCaller({
      app: this.options.app,
      local,
      contextFor: (service) => contexts.for(service),
      log,
      ...(ports.remoteCalls ? { remote: ports.remoteCalls } : {}),
      ...(metrics ? { metrics } : {}),
    });
    const calls: CallWithMeta = (action, input, options, meta) => caller.call(action, input, options, meta);
    const contexts = new ServiceContexts(
      {
        bus: ports.bus,
        store: ports.store,
        queue: this.queue,
        calls,
        ...(metrics ? { metrics } : {}),
        declaredTopics: new Set(this.options.app.services.flatMap((service) => service.listeners.map((l) => l.topic))),
      },
      log,
    );
    for (const service of app.services) {
      const context = contexts.for(service.name);
      for (const listener of service.listeners) {
        const handle = (payload: unknown) => listener.handler(payload, context);
        // A consumer span, a child of the emitter's, when the event came traced.
        const run = (payload: unknown, _topic: string, trace?: TraceCarrier) =>
          consuming(
            `event ${listener.topic}`,
            { 'messaging.destination.name': listener.topic, 'cleave.service': service.name },
            trace,
            () => handle(payload),
          );
        // Counted as it ends; a failure still reaches the bus, which logs it.
        const counted = async (payload: unknown, topic: string, trace?: TraceCarrier) => {
          try {
            await run(payload, topic, trace);
            metrics?.eventHandled(service.name, listener.topic, true);
          } catch (error) {
            metrics?.eventHandled(service.name, listener.topic, false);
            throw error;
          }
        };
        // Grouped by service: split, one replica of the service hears each event, not all of them.
        this.unsubscribers.push(ports.bus.subscribe(listener.topic, metrics ? counted : run, { group: service.name }));
      }
    }
    this.cron = new CronScheduler({ lock: ports.lock, log, contextFor: (service) => contexts.for(service) });
    this.cron.start(app.services.flatMap((service) => service.crons));

    const contextFor = (service: string) => contexts.for(service);
    const listen = this.options.listen ?? { port: config.PORT, host: config.HOST };
    // A split replica listens on a unix socket for the gateway, which ends TLS and caches.
    const behindGateway = 'path' in listen;
    const tls = behindGateway ? undefined : await loadTls(config);
    const cache = behindGateway || !config.CLEAVE_CACHE ? undefined : responseCacheOf(config);
    if (cache) this.unsubscribers.push(subscribeInvalidations(cache, ports.bus, app));
    if (cache && metrics) metrics.observeCache(() => cache.stats());
    // What only some services use is loaded now for those that do, not by their first request.
    if (app.services.some((service) => service.statics.length > 0)) send();
    if (app.services.some((service) => service.sockets.length > 0)) ws();
    const hub = new SocketHub({ router, auth, bus: ports.bus, log, contextFor });
    const trustedProxies = TrustedProxies.fromList(config.CLEAVE_TRUSTED_PROXIES);
    this.server = new HttpServer({
      pipeline: createRequestHandler({
        router,
        auth,
        log,
        contextFor,
        accessLog: config.CLEAVE_ACCESS_LOG,
        behindGateway,
        calls,
        trustedProxies,
        ...(cache ? { cache } : {}),
        ...(metrics ? { metrics } : {}),
        rateLimiter: new RateLimiter({
          app: this.options.app,
          counters: ports.rateCounters,
          trustedProxies,
          env: config,
        }),
      }),
      hub,
      log,
      listen,
      headersTimeoutMs: config.CLEAVE_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.CLEAVE_REQUEST_TIMEOUT_MS,
      // TLS only where clients connect: a split replica's unix socket is the gateway's.
      ...(tls ? { tls } : {}),
      ...(tls && config.CLEAVE_HTTP_REDIRECT_PORT !== undefined
        ? { redirectHttpPort: config.CLEAVE_HTTP_REDIRECT_PORT }
        : {}),
    });
    if ('path' in listen) {
      // Split: the other replicas call this one's actions next to its HTTP socket.
      this.callServer = new CallServer(caller, local, log);
      await this.callServer.listen(callSocketOf(listen.path));
    }
    if (ports.nats) {
      // Other nodes call this process's actions over the NATS they share.
      this.natsResponder = new NatsResponder(ports.nats, { app: app.name, caller, local, log });
      this.natsResponder.start(app.services);
    }
    return this.server.listen();
  }

  /** Mean requests in flight since the last call: one of the autoscaler's signals. */
  takeMeanInFlight(): number {
    // Calls from other replicas are work here too: a service reached only by calls scales on them.
    return (
      (this.server?.takeMeanInFlight() ?? 0) +
      (this.callServer?.inFlight.takeMean() ?? 0) +
      (this.natsResponder?.inFlight.takeMean() ?? 0)
    );
  }

  /** Safe after a partial start: each part stops only if it was started. */
  async stop(): Promise<void> {
    const { config } = this.options;
    await Promise.all([
      this.server?.stop(config.CLEAVE_STOP_GRACE_MS),
      this.callServer?.stop(config.CLEAVE_STOP_GRACE_MS),
      this.natsResponder?.stop(config.CLEAVE_STOP_GRACE_MS),
    ]);
    await this.cron?.stop();
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    await this.queue?.stop();
    await this.ports?.bus.stop();
    await this.ports?.store.stop();
    await this.ports?.close();
  }
}

/** The app as this process sees it: only the services it runs route here. */
function servicesOf(app: App, names: readonly string[] | undefined): App {
  if (!names) return app;
  for (const name of names) {
    if (!app.services.some((service) => service.name === name)) {
      throw new AppDefinitionError(`app ${app.name} has no service "${name}"`);
    }
  }
  return { ...app, services: app.services.filter((service) => names.includes(service.name)) };
}
