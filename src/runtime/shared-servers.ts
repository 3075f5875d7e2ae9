// What a process takes from the servers every node shares, when the environment names them:
// its NATS connection and event bus (CLEAVE_NATS_URL), its Redis connection and rate counters
// (CLEAVE_REDIS_URL). Apart from ports.ts so the gateway, which needs only these, loads no
// store or call machinery.

import type { Logger } from 'pino';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { InsuredRateCounters } from '../ratelimit/insured.ts';
import { RedisRateCounters } from '../ratelimit/redis.ts';
import type { RateCounters } from '../ratelimit/types.ts';
import { RedisConnection } from '../redis/connection.ts';
import { NatsConnection } from '../nats/connection.ts';
import { NatsBus } from '../bus/nats.ts';
import type { Bus } from '../bus/types.ts';

/** Longest the first connection to NATS may take at start. */
const NATS_CONNECT_TIMEOUT_MS = 5000;

/** The NATS CLEAVE_NATS_URL names; undefined when none is set. `role` names the connection. */
export function natsOf(config: RuntimeConfig, log: Logger, role: string): NatsConnection | undefined {
  if (config.CLEAVE_NATS_URL === undefined) return undefined;
  return new NatsConnection({
    url: config.CLEAVE_NATS_URL,
    timeoutMs: NATS_CONNECT_TIMEOUT_MS,
    name: `cleave ${role} (pid ${process.pid})`,
    log,
  });
}

/**
 * Events on NATS, every node's, when there is one; else `local` (this process, or its node).
 * Either way a listener's failure is logged, never thrown at the emitter.
 */
export function busOf(
  nats: NatsConnection | undefined,
  app: string,
  log: Logger,
  local: (onListenerError: ListenerErrorHandler) => Bus,
): Bus {
  const onListenerError: ListenerErrorHandler = (error, topic) =>
    log.error({ err: error, topic }, 'event listener failed');
  return nats === undefined ? local(onListenerError) : new NatsBus(nats, { app, onListenerError });
}

type ListenerErrorHandler = (error: unknown, topic: string) => void;

/** The Redis CLEAVE_REDIS_URL names, under the app's own keys; undefined when none is set. */
export function redisOf(config: RuntimeConfig, log: Logger, app: string): RedisConnection | undefined {
  if (config.CLEAVE_REDIS_URL === undefined) return undefined;
  return new RedisConnection({
    url: config.CLEAVE_REDIS_URL,
    timeoutMs: config.CLEAVE_REDIS_TIMEOUT_MS,
    keyPrefix: `cleave:${app}:`,
    log,
  });
}

/**
 * Rate counters every node shares when there is a Redis, with this node's own (`local`) as
 * the fallback while Redis can't answer; without one, this node's.
 */
export function rateCountersOf(redis: RedisConnection | undefined, local: RateCounters): RateCounters {
  return redis ? new InsuredRateCounters(new RedisRateCounters(redis), local, redis) : local;
}

interface Server {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Connects to each server named, all at once. If one can't be reached, the others are
 * closed again and the first failure is the error.
 */
export async function startAll(...servers: Array<Server | undefined>): Promise<void> {
  const results = await Promise.allSettled(servers.map((server) => server?.start() ?? Promise.resolve()));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure === undefined) return;
  await stopAll(...servers);
  throw failure.reason;
}

export async function stopAll(...servers: Array<Server | undefined>): Promise<void> {
  await Promise.all(servers.map((server) => server?.stop() ?? Promise.resolve()));
}
