// The entry of the gateway process in split mode (`cleave gateway`): the app's route table,
// the public port, and the replicas the supervisor reports over IPC. Forked by the
// supervisor with CLEAVE_APP_MODULE set and the same environment as the supervisor (PORT,
// HOST, CLEAVE_*); exits with it, never an orphan.

import { rmSync } from 'node:fs';
import { loadRuntimeConfig } from '../config/runtime-config.ts';
import { ConfigError } from '../errors.ts';
import { channelOfProcess } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import { toWire } from '../shared/error-wire.ts';
import { createLogger } from '../observability/logger.ts';
import { startTracing } from '../observability/tracing.ts';
import { Metrics } from '../observability/metrics.ts';
import { reportMetrics } from '../observability/metrics-report.ts';
import { loadApp } from '../runtime/load-app.ts';
import { stopOnSignals } from '../cli/signals.ts';
import { adminSocketPath } from '../supervisor/admin-server.ts';
import { exitWithParent, roleFromArgv, setTitle } from '../supervisor/child-main.ts';
import { loadClusterTls, loadTls } from '../http/tls.ts';
import { Gateway } from './gateway.ts';
import { IpcBus } from '../bus/ipc.ts';
import { Authenticator } from '../http/auth.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { RpcClient } from '../ipc/rpc-client.ts';
import { IpcRateCounters } from '../ratelimit/ipc.ts';
import { busOf, natsOf, rateCountersOf, redisOf, startAll, stopAll } from '../runtime/shared-servers.ts';
import { NatsDirectory } from '../discovery/nats-directory.ts';
import { servicesOfThisNode } from '../supervisor/node-services.ts';
import { watchReplicas } from '../upstream/membership.ts';
import { RemoteNodes } from '../upstream/remote-nodes.ts';
import { TrustedProxies } from './forwarded.ts';
import { subscribeInvalidations } from '../cache/invalidation.ts';

setTitle(roleFromArgv() ?? 'gateway');

function requiredNodeId(id: string | undefined): string {
  if (id === undefined)
    throw new ConfigError('CLEAVE_NODE_ID', 'is required in a gateway with a node listener (the supervisor sets it)');
  return id;
}
const appModule = process.env.CLEAVE_APP_MODULE;
if (!appModule)
  throw new ConfigError('CLEAVE_APP_MODULE', 'is required in the gateway process (the supervisor sets it)');
const channel = channelOfProcess();
const config = loadRuntimeConfig();
const log = createLogger({ level: config.LOG_LEVEL, pretty: false, base: { role: 'gateway' } });
const { app } = await loadApp(appModule, config.CLEAVE_TYPESCRIPT);
await startTracing({ serviceName: 'gateway', app: app.name, log });
const tls = await loadTls(config);
const clusterTls = await loadClusterTls(config);

// Answers from the cache need what a replica would check first: sign-in where the route asks
// for it, and the same limits, at the same counters, as the replicas'.
const auth = new Authenticator(config.CLEAVE_SECRET === undefined ? {} : { secret: config.CLEAVE_SECRET });
// On the servers every node shares when there are some, as the replicas' are.
const redis = redisOf(config, log, app.name);
const nats = natsOf(config, log, 'gateway');
await startAll(nats, redis);
const limiter = new RateLimiter({
  app,
  counters: rateCountersOf(redis, new IpcRateCounters(new RpcClient(channel))),
  trustedProxies: TrustedProxies.fromList(config.CLEAVE_TRUSTED_PROXIES),
  env: config,
});

const metrics = new Metrics();
const gateway = new Gateway({
  app,
  config,
  log,
  metrics,
  cacheGuards: { limiter, auth },
  ...(tls ? { tls } : {}),
  ...(clusterTls && config.CLEAVE_NODE_PORT !== undefined
    ? {
        nodeListener: {
          port: config.CLEAVE_NODE_PORT,
          tls: clusterTls,
          // The supervisor names its node to its gateway: the heartbeats' name, which the other
          // nodes' cookies use, so a name of the gateway's own would break stickiness.
          nodeId: requiredNodeId(config.CLEAVE_NODE_ID),
        },
      }
    : {}),
  onHealth: (service, id, healthy) =>
    channel.send({ cleave: PROTOCOL_VERSION, type: 'replica-health', service, id, healthy }),
});
// Events that invalidate cached responses come from any replica: through the supervisor's
// hub, or from every node's over NATS.
const bus = busOf(nats, app.name, log, (onListenerError) => new IpcBus(channel, { onListenerError }));
if (gateway.cache) subscribeInvalidations(gateway.cache, bus, app);

// The cache's counters for `cleave status`, once a second.
const cache = gateway.cache;
if (cache) {
  setInterval(() => {
    if (!channel.closed) channel.send({ cleave: PROTOCOL_VERSION, type: 'gateway-stats', cache: cache.stats() });
  }, 1000).unref();
}

channel.onMessage((message) => {
  if (!isIpcMessage(message) || message.type !== 'replica-drain') return;
  const { id } = message;
  void gateway
    .drain(message.service, id)
    .finally(() => channel.send({ cleave: PROTOCOL_VERSION, type: 'replica-drained', id }));
});
const { known } = watchReplicas(channel, {
  up: ({ service, id, address }) => gateway.ready(service, id, { socketPath: address }),
  down: (service, id) => gateway.gone(service, id),
});

// The services this node does not run, on the nodes that do: through their node listeners,
// which only a node with the cluster's certificates may reach.
// A node's heartbeat that says a pool changed is acted on at once, not at the next read.
const directory =
  nats && clusterTls ? new NatsDirectory(nats, { app: app.name, log, onChange: () => remote?.sync() }) : undefined;
const remote = directory
  ? new RemoteNodes({
      nodes: () => directory.nodes(),
      here: new Set(servicesOfThisNode(app, config).map((service) => service.name)),
      up: (service, id, address) => gateway.ready(service, id, address),
      down: (service, id) => gateway.gone(service, id),
    })
  : undefined;
directory?.start();
remote?.start();
const stopRemote = async () => {
  remote?.stop();
  await directory?.stop();
};

const grace = config.CLEAVE_STOP_GRACE_MS;
// The last report after the last request is answered.
const lastReport = reportMetrics(channel, metrics);
let listeningPort: number | undefined;
exitWithParent({
  beforeExit: () =>
    stopRemote()
      .then(() => gateway.stop(1000))
      .finally(() => stopAll(nats, redis)),
  graceMs: 2000,
  // The socket of `cleave status` is named after the port, which only this process knows
  // once its supervisor was killed.
  onParentDied: () => {
    if (listeningPort !== undefined) rmSync(adminSocketPath(listeningPort), { force: true });
  },
});
stopOnSignals(
  () =>
    stopRemote()
      .then(() => gateway.stop(grace))
      .finally(lastReport)
      .finally(() => stopAll(nats, redis)),
  { log, graceMs: grace },
);
// Listening only once the replicas are known, so a restarted gateway never answers 502 for
// want of a replica that was there all along.
await known;
try {
  const address = await gateway.listen();
  listeningPort = address.port;
  // Before the supervisor hears the gateway listens: a started node serves other nodes too.
  const nodeAddress = await gateway.listenForNodes();
  if (nodeAddress) log.info({ port: nodeAddress.port }, 'node listener on mutual TLS');
  channel.send({
    cleave: PROTOCOL_VERSION,
    type: 'listening',
    port: address.port,
    host: address.address,
    ...(nodeAddress ? { nodePort: nodeAddress.port } : {}),
  });
  log.info({ port: address.port }, 'gateway listening');
} catch (error) {
  // The supervisor stops the start-up with this error as its one line; no restart can fix it.
  channel.send({ cleave: PROTOCOL_VERSION, type: 'listen-failed', error: toWire(error) }, () => process.exit(1));
}
