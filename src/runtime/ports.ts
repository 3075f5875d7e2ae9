// The backing services a runtime talks through, built from config in one place. The
// embedded set keeps all in this process; the IPC set reaches the supervisor's, so every
// replica of a split app shares one bus, one store and one set of locks. What lives on a
// server every node shares (the store on PostgreSQL; rate counters and locks on Redis;
// events on NATS) is opened by each process itself, in either set.

import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { IpcBus } from '../bus/ipc.ts';
import { MemoryBus } from '../bus/memory.ts';
import type { Bus } from '../bus/types.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { RpcClient } from '../ipc/rpc-client.ts';
import { IpcLock } from '../lock/ipc.ts';
import { IpcTaskQueue } from '../queue/ipc.ts';
import type { TaskQueue } from '../queue/types.ts';
import { IpcRateCounters } from '../ratelimit/ipc.ts';
import { MemoryRateCounters } from '../ratelimit/memory.ts';
import type { RateCounters } from '../ratelimit/types.ts';
import { MemoryLock } from '../lock/memory.ts';
import type { Lock } from '../lock/types.ts';
import { coalesceReads } from '../store/coalesce.ts';
import { FileStore } from '../store/file.ts';
import { IpcStore } from '../store/ipc.ts';
import { MemoryStore } from '../store/memory.ts';
import { PostgresStore } from '../store/postgres.ts';
import { RedisLock } from '../lock/redis.ts';
import { busOf, natsOf, rateCountersOf, redisOf, startAll, stopAll } from './shared-servers.ts';
import type { StoreBackend } from '../store/types.ts';
import { RemoteActions } from '../calls/remote-actions.ts';
import type { RemoteCaller } from '../calls/action-caller.ts';
import { NatsCaller } from '../calls/nats-caller.ts';
import type { NatsConnection } from '../nats/connection.ts';

export interface Ports {
  bus: Bus;
  store: StoreBackend;
  lock: Lock;
  /** Where tasks run, when not in this process's own worker threads (split mode). */
  tasks?: TaskQueue;
  /** Rate-limit counters, shared by every process of the app. */
  rateCounters: RateCounters;
  /**
   * Where the actions of services not in this process are called: other replicas of this
   * node (split), and other nodes over NATS when one is shared.
   */
  remoteCalls?: RemoteCaller;
  /** The NATS every node shares, when set: this process answers other nodes' calls there. */
  nats?: NatsConnection;
  /** Connects what the set itself owns (Redis); unreachable is a RedisUnavailableError. */
  start(): Promise<void>;
  /** Releases what the set itself owns beyond the bus and store (an RPC client, Redis). */
  close(): Promise<void>;
}

/** Which app a process serves, as its ports need it. */
export interface PortsScope {
  /** The app's name: its keys on a shared Redis. */
  app: string;
  /** The services this process runs (their schemas are made at start). */
  services: readonly string[];
}

/** Everything in this process (the monolith), but what lives on a server every node shares. */
export function embeddedPorts(config: RuntimeConfig, log: Logger, scope: PortsScope): Ports {
  const redis = redisOf(config, log, scope.app);
  const nats = natsOf(config, log, 'dev');
  return {
    ...(nats ? { nats, remoteCalls: new NatsCaller(nats, { app: scope.app }) } : {}),
    bus: busOf(nats, scope.app, log, (onListenerError) => new MemoryBus({ onListenerError })),
    store: coalesceReads(storeOf(config, log, scope.services)),
    lock: redis ? new RedisLock(redis) : new MemoryLock(),
    rateCounters: rateCountersOf(redis, new MemoryRateCounters()),
    start: () => startAll(nats, redis),
    close: () => stopAll(nats, redis),
  };
}

/**
 * The store CLEAVE_STORE names, for `services` (their schemas are made at start). Memory and
 * file live in one process: the monolith's, or the supervisor's, which replicas reach over
 * IPC. PostgreSQL is opened by every process itself (sharedStore).
 */
export function storeOf(
  config: RuntimeConfig,
  log: Logger,
  services: readonly string[],
  options: { serviceRoles?: boolean } = {},
): StoreBackend {
  const target = config.CLEAVE_STORE;
  if (target === 'memory') return new MemoryStore();
  if (target === 'file') {
    const dir = isAbsolute(config.CLEAVE_DATA_DIR) ? config.CLEAVE_DATA_DIR : resolve(config.CLEAVE_DATA_DIR);
    return new FileStore({ dir, log });
  }
  return new PostgresStore({
    url: target,
    schemas: services,
    poolMax: config.CLEAVE_STORE_POOL_MAX,
    timeoutMs: config.CLEAVE_STORE_TIMEOUT_MS,
    log,
    ...(options.serviceRoles ? { serviceRoles: true } : {}),
  });
}

/** True when each process opens the store itself rather than through the supervisor. */
export function isSharedStore(config: RuntimeConfig): boolean {
  return config.CLEAVE_STORE !== 'memory' && config.CLEAVE_STORE !== 'file';
}

/**
 * A replica's ports: the supervisor's hub at the other end of `channel`, but what lives on a
 * shared server (PostgreSQL, Redis) reached directly, so the supervisor is no hop on every
 * call. While Redis can't answer, the supervisor's counters are the node's fallback.
 */
export function ipcPorts(channel: IpcChannel, log: Logger, config: RuntimeConfig, scope: PortsScope): Ports {
  const rpc = new RpcClient(channel);
  const redis = redisOf(config, log, scope.app);
  const nats = natsOf(config, log, scope.services.join(','));
  const remoteActions = new RemoteActions({
    channel,
    log,
    healthProbes: { intervalMs: config.CLEAVE_HEALTH_INTERVAL_MS, timeoutMs: config.CLEAVE_HEALTH_TIMEOUT_MS },
    ...(nats ? { elsewhere: new NatsCaller(nats, { app: scope.app }) } : {}),
  });
  return {
    ...(nats ? { nats } : {}),
    remoteCalls: remoteActions,
    bus: busOf(nats, scope.app, log, (onListenerError) => new IpcBus(channel, { onListenerError })),
    store: isSharedStore(config) ? coalesceReads(storeOf(config, log, scope.services)) : new IpcStore(rpc),
    lock: redis ? new RedisLock(redis) : new IpcLock(rpc),
    tasks: new IpcTaskQueue(rpc),
    rateCounters: rateCountersOf(redis, new IpcRateCounters(rpc)),
    start: () => startAll(nats, redis),
    close: async () => {
      await remoteActions.stop();
      await stopAll(nats, redis);
      rpc.close();
    },
  };
}
