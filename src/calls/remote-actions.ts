// Calls to the actions of other services when split: straight to a replica of the owning pool
// over its unix socket, with the gateway's own parts — UpstreamPools (keep-alive undici pools,
// active health probes), the pool's balancer, pickReplica and the retry budget — but never
// through the public port. The replica set comes from the supervisor, asked on the first call
// (`watch-replicas`), then kept current (`replica-up`, `replica-down`).
//
// Retries follow the gateway's rule: a call that reached no replica (refused, socket gone,
// connect timeout) goes to another whatever the action; one whose replica died mid-call only
// when the action is idempotent; never past the deadline.

import type { Logger } from 'pino';
import type { ActionDefinition } from '../app/action.ts';
import { CallTimeoutError, ShuttingDownError, UpstreamUnavailableError } from '../errors.ts';
import { pickReplica } from '../gateway/pick.ts';
import { UpstreamPools } from '../gateway/pools.ts';
import { blamesReplica, isTimeout, reachedNothing, upstreamFailureOf } from '../gateway/upstream-failure.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import { fromWire, type WireError } from '../shared/error-wire.ts';
import { Replica } from '../upstream/replica.ts';
import type { RemoteCaller } from './action-caller.ts';
import type { CallMeta } from './call-context.ts';
import { ACTION_PATH, DEADLINE_HEADER } from './action-endpoint.ts';
import { exchange } from './call-exchange.ts';

export interface RemoteActionsOptions {
  channel: IpcChannel;
  log: Logger;
  /** Further replicas one call may try. @default 2 */
  maxRetries?: number;
  healthProbes?: { intervalMs: number; timeoutMs: number };
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

  constructor(options: RemoteActionsOptions) {
    this.#options = options;
    this.#pools = new UpstreamPools({ healthProbes: options.healthProbes ?? { intervalMs: 1000, timeoutMs: 1000 } });
  }

  async call(definition: ActionDefinition, input: unknown, meta: CallMeta, timeoutMs: number): Promise<unknown> {
    await (this.#watching ??= this.#watch());
    if (!this.#called.has(definition.service)) this.#startCalling(definition.service);
    const pool = this.#pools.get(definition.service);
    if (!pool || pool.replicas.length === 0) {
      throw new UpstreamUnavailableError(`no replica of ${definition.service} is running to answer ${definition.id}`);
    }
    const body = JSON.stringify({ input });
    const candidates = pool.candidates();
    pool.budget.deposit();
    let retries = 0;
    let lastError: unknown;
    for (;;) {
      const replica = pickReplica(candidates);
      if (replica === undefined) {
        throw new UpstreamUnavailableError(`no replica of ${definition.service} could answer ${definition.id}`, {
          cause: lastError,
        });
      }
      const dispatcher = pool.dispatcherOf(replica);
      if (dispatcher === undefined) continue; // removed since the pick
      const remaining = meta.deadline - Date.now();
      if (remaining <= 0) throw new CallTimeoutError(definition.id, timeoutMs);
      const lease = replica.begin();
      try {
        const response = await exchange(dispatcher, {
          method: 'POST',
          path: `${ACTION_PATH}${definition.id}`,
          headers: [
            'content-type',
            'application/json',
            'x-request-id',
            meta.requestId,
            DEADLINE_HEADER,
            String(remaining),
          ],
          body,
          headersTimeout: remaining,
          bodyTimeout: remaining,
        });
        const answer = JSON.parse(response.body.toString('utf8')) as { output?: unknown; error?: WireError };
        replica.recordSuccess();
        if (response.status === 200) return answer.output;
        const error = fromWire(answer.error ?? { code: 'CLEAVE_INTERNAL', message: 'malformed answer' });
        // A replica that is stopping ran nothing: another may take the call.
        if (!(error instanceof ShuttingDownError) || !this.#mayRetry(retries, pool.budget)) throw error;
        lastError = error;
      } catch (error) {
        if (!isTransportError(error)) throw error;
        const failure = upstreamFailureOf(error);
        if (isTimeout(failure)) throw new CallTimeoutError(definition.id, timeoutMs);
        if (blamesReplica(failure)) replica.recordFailure();
        const safe = reachedNothing(failure) || (definition.idempotent && failure === 'reset');
        if (!safe || !this.#mayRetry(retries, pool.budget)) {
          throw new UpstreamUnavailableError(`no replica of ${definition.service} could answer ${definition.id}`, {
            cause: error,
          });
        }
        lastError = error;
      } finally {
        lease.release();
      }
      retries += 1;
    }
  }

  async stop(): Promise<void> {
    this.#stopListening?.();
    await this.#pools.close(1000);
  }

  #mayRetry(retries: number, budget: { tryWithdraw(): boolean }): boolean {
    return retries < (this.#options.maxRetries ?? 2) && budget.tryWithdraw();
  }

  /** Asks the supervisor for the replica set and follows its changes; resolves with the first set. */
  #watch(): Promise<void> {
    const { channel } = this.#options;
    return new Promise((resolve) => {
      this.#stopListening = channel.onMessage((message) => {
        if (!isIpcMessage(message)) return;
        switch (message.type) {
          case 'replicas':
            for (const { service, id, address } of message.replicas) this.#up(service, id, address);
            return resolve();
          case 'replica-up':
            return this.#up(message.service, message.id, message.address);
          case 'replica-down':
            this.#replicas.get(message.service)?.delete(message.id);
            return void this.#pools.remove(message.service, message.id);
          default:
        }
      });
      channel.send({ cleave: PROTOCOL_VERSION, type: 'watch-replicas' });
    });
  }

  #up(service: string, id: string, socketPath: string): void {
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

/** A failure of the hop itself (undici's or the socket's), not an answer from the callee. */
function isTransportError(error: unknown): boolean {
  return upstreamFailureOf(error) !== 'other' || (error as { name?: string } | null)?.name === 'AbortError';
}
