// Calls to the actions of other services when split: straight to a replica of the owning pool,
// never through the public port. The replica is picked with the gateway's own parts —
// UpstreamPools (membership and active health probes), the pool's balancer, pickReplica and
// the retry budget — and the call goes on a framed connection to it (call-connection.ts). The
// replica set comes from the supervisor, asked on the first call (`watch-replicas`), then
// kept current (`replica-up`, `replica-down`).
//
// Retries follow the one rule of src/upstream/attempts.ts, as the gateway's: a call that
// reached no replica (refused, socket gone) or that a stopping replica did not run goes to
// another whatever the action; one whose replica died mid-call only when the action is
// idempotent; never past the deadline.
//
// When nodes share a NATS, a service with no replica on this node (none started yet, or none
// left) is called on another node over NATS (`elsewhere`, nats-caller.ts).

import type { Logger } from 'pino';
import type { ActionDefinition } from '../app/action.ts';
import { CallTimeoutError, ShuttingDownError, UpstreamUnavailableError } from '../errors.ts';
import { pickReplica } from '../upstream/pick.ts';
import { UpstreamPools } from '../upstream/pools.ts';
import { tryAgain } from '../upstream/attempts.ts';
import { watchReplicas } from '../upstream/membership.ts';
import { blamesReplica, upstreamFailureOf, type UpstreamFailure } from '../upstream/upstream-failure.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { fromWire, type WireError } from '../shared/error-wire.ts';
import { Replica } from '../upstream/replica.ts';
import type { RemoteCaller } from './action-caller.ts';
import type { CallMeta } from './call-context.ts';
import { callRequestOf } from './answer-call.ts';
import { CallConnection, type PendingCall } from './call-connection.ts';
import { callSocketOf } from './call-server.ts';

export interface RemoteActionsOptions {
  channel: IpcChannel;
  log: Logger;
  /** Further replicas one call may try. @default 2 */
  maxRetries?: number;
  healthProbes?: { intervalMs: number; timeoutMs: number };
  /** Other nodes' replicas, for a service with none here. */
  elsewhere?: RemoteCaller;
}

/** One call in progress: whether its deadline passed, and the attempt to abort when it does. */
interface CallState {
  expired: boolean;
  current: PendingCall | undefined;
}

export class RemoteActions implements RemoteCaller {
  readonly #options: RemoteActionsOptions;
  readonly #pools: UpstreamPools;
  #watching: Promise<void> | undefined;
  #stopListening: (() => void) | undefined;
  /** Every replica the supervisor reported, by service, called or not. */
  readonly #replicas = new Map<string, Map<string, string>>();
  /**
   * The services this process has called: only their replicas get a pool and health probes,
   * so a replica that calls one service does not probe every replica of the app.
   */
  readonly #called = new Set<string>();
  /** One framed connection per callee replica, by replica id. */
  readonly #connections = new Map<string, CallConnection>();
  #stopped = false;
  /** Services that have had a ready replica since this process asked. */
  readonly #everReady = new Set<string>();
  /** Calls waiting for a service's first replica. */
  readonly #waitingFor = new Map<string, Array<() => void>>();

  constructor(options: RemoteActionsOptions) {
    this.#options = options;
    this.#pools = new UpstreamPools({ healthProbes: options.healthProbes ?? { intervalMs: 1000, timeoutMs: 1000 } });
  }

  /** One timer bounds the whole call: the wait for the replica set, connecting, every attempt. */
  call(definition: ActionDefinition, input: unknown, meta: CallMeta, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call: CallState = { expired: false, current: undefined };
      const timer = setTimeout(
        () => {
          call.expired = true;
          const error = new CallTimeoutError(definition.id, timeoutMs);
          call.current?.abort(error);
          reject(error);
        },
        Math.max(0, meta.deadline - Date.now()),
      );
      this.#attempts(definition, input, meta, call).then(
        (output) => {
          clearTimeout(timer);
          resolve(output);
        },
        (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async #attempts(definition: ActionDefinition, input: unknown, meta: CallMeta, call: CallState): Promise<unknown> {
    // A listener or job still running while this replica stops opens no new connection.
    if (this.#stopped) throw new ShuttingDownError('this replica is stopping: it makes no more calls');
    await (this.#watching ??= this.#watch());
    const { elsewhere } = this.#options;
    if (elsewhere && !this.#hasReplicaHere(definition.service)) {
      return elsewhere.call(definition, input, meta, Math.max(1, meta.deadline - Date.now()));
    }
    if (!this.#called.has(definition.service)) this.#startCalling(definition.service);
    // At start-up the callee's pool may not be ready yet (a cron job that calls at once): wait
    // for its first replica, within the deadline. Once it has had one, none is a failure now,
    // as the gateway answers 502 for a pool with no replica left.
    if (!this.#everReady.has(definition.service)) await this.#firstReplicaOf(definition.service);
    const pool = this.#pools.get(definition.service);
    if (!pool || pool.replicas.length === 0) {
      throw new UpstreamUnavailableError(`no replica of ${definition.service} is running to answer ${definition.id}`);
    }
    const candidates = pool.candidates();
    pool.budget.deposit();
    let retries = 0;
    let lastError: unknown;
    while (!call.expired) {
      const replica = pickReplica(candidates);
      if (replica === undefined) {
        throw new UpstreamUnavailableError(`no replica of ${definition.service} could answer ${definition.id}`, {
          cause: lastError,
        });
      }
      // Removed since the pick: the next candidate.
      const socketPath = this.#replicas.get(definition.service)?.get(replica.id);
      if (pool.dispatcherOf(replica) === undefined || socketPath === undefined) continue;
      const remaining = Math.max(1, meta.deadline - Date.now());
      const lease = replica.begin();
      let failure: UpstreamFailure | undefined;
      try {
        call.current = this.#connectionOf(replica.id, socketPath).call(
          callRequestOf(definition, input, meta, remaining),
        );
        const answer = await call.current.answer;
        replica.recordSuccess();
        if ('e' in answer) throw fromWire(answer.e as WireError);
        if (!('n' in answer)) return answer.o;
        // The replica is stopping and ran nothing: another may take it, whatever the action.
        failure = 'declined';
        lastError = new ShuttingDownError(`${replica.id} is stopping`);
      } catch (error) {
        // The callee's own answer, an error included, is the call's answer.
        failure = transportFailureOf(error);
        if (failure === undefined) throw error;
        if (blamesReplica(failure)) replica.recordFailure();
        lastError = error;
      } finally {
        call.current = undefined;
        lease.release();
      }
      if (!tryAgain({ failure, repeatable: definition.idempotent }, retries, this.#maxRetries, pool.budget)) {
        throw new UpstreamUnavailableError(`no replica of ${definition.service} could answer ${definition.id}`, {
          cause: lastError,
        });
      }
      retries += 1;
    }
    // Past the deadline: the caller has had its CallTimeoutError already.
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // Calls still waiting for a first replica end now (their callers have had their answer).
    for (const waiting of this.#waitingFor.values()) for (const wake of waiting) wake();
    this.#waitingFor.clear();
    this.#stopListening?.();
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
    await this.#pools.close(1000);
  }

  /** Whether the supervisor reports a replica of `service` on this node. */
  #hasReplicaHere(service: string): boolean {
    return (this.#replicas.get(service)?.size ?? 0) > 0;
  }

  get #maxRetries(): number {
    return this.#options.maxRetries ?? 2;
  }

  /** Asks the supervisor for the replica set and follows its changes; resolves with the first set. */
  #watch(): Promise<void> {
    const watch = watchReplicas(this.#options.channel, {
      up: ({ service, id, address }) => this.#up(service, id, address),
      down: (service, id) => {
        this.#replicas.get(service)?.delete(id);
        // Out of every pick already; the calls on its way there still get their answers.
        this.#connections.get(id)?.closeWhenIdle();
        this.#connections.delete(id);
        void this.#pools.remove(service, id);
      },
    });
    this.#stopListening = watch.stop;
    return watch.known;
  }

  #connectionOf(id: string, socketPath: string): CallConnection {
    let connection = this.#connections.get(id);
    if (!connection) this.#connections.set(id, (connection = new CallConnection(callSocketOf(socketPath))));
    return connection;
  }

  #firstReplicaOf(service: string): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.#waitingFor.get(service);
      if (waiting) waiting.push(resolve);
      else this.#waitingFor.set(service, [resolve]);
    });
  }

  #up(service: string, id: string, socketPath: string): void {
    this.#everReady.add(service);
    // After the replica is in the pools: the calls it wakes pick from them.
    queueMicrotask(() => {
      for (const wake of this.#waitingFor.get(service) ?? []) wake();
      this.#waitingFor.delete(service);
    });
    // A replica restarted under the same id listens at the same path: its old connection broke
    // with the old process and reopens on the next call, so nothing is closed here.
    let replicas = this.#replicas.get(service);
    if (!replicas) this.#replicas.set(service, (replicas = new Map<string, string>()));
    replicas.set(id, socketPath);
    if (this.#called.has(service)) this.#add(service, id, socketPath);
  }

  #startCalling(service: string): void {
    this.#called.add(service);
    for (const [id, socketPath] of this.#replicas.get(service) ?? []) this.#add(service, id, socketPath);
  }

  #add(service: string, id: string, socketPath: string): void {
    if (this.#pools.get(service)?.replicas.some((known) => known.id === id)) void this.#pools.remove(service, id);
    this.#pools.add(service, new Replica(id, { socketPath }));
  }
}

/** The failure of the hop itself (undici's or the socket's), or undefined for an answer from the callee. */
function transportFailureOf(error: unknown): UpstreamFailure | undefined {
  const failure = upstreamFailureOf(error);
  if (failure !== 'other' || (error as { name?: string } | null)?.name === 'AbortError') return failure;
  return undefined;
}
