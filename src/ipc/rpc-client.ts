// A replica's calls to the supervisor's store and lock: request/response over an IpcChannel.
// A call never hangs: it settles with the answer, at its timeout, or as soon as the channel
// closes. One client per channel is the intent; ids are unique process-wide anyway, so two
// clients sharing a channel can't take each other's answers.

import { InternalError, ShuttingDownError, StoreUnavailableError, type CleaveError } from '../errors.ts';
import { fromWire } from '../shared/error-wire.ts';
import type { IpcChannel } from './channel.ts';
import {
  isIpcMessage,
  PROTOCOL_VERSION,
  type RpcArgs,
  type RpcMethod,
  type RpcRequest,
  type RpcResponse,
  type RpcResult,
} from './messages.ts';

export interface RpcClientOptions {
  /**
   * How long a call waits for its answer before failing with StoreUnavailableError. The timer
   * keeps the process alive meanwhile: a process must not exit with a call unsettled. @default 5000
   */
  timeoutMs?: number;
  /**
   * Calls waiting at once; one more fails at once with StoreUnavailableError (retryable).
   * Bounds what a runaway caller can queue behind a slow supervisor. @default 10000
   */
  maxPending?: number;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: CleaveError): void;
  timer: NodeJS.Timeout;
}

let lastId = 0;

export class RpcClient {
  readonly #channel: IpcChannel;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #pending = new Map<number, PendingCall>();
  readonly #stopListening: Array<() => void>;
  /** Set once no call can succeed any more; every later call fails with it. */
  #closedBy: (() => CleaveError) | undefined;

  constructor(channel: IpcChannel, options: RpcClientOptions = {}) {
    this.#channel = channel;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#stopListening = [
      channel.onMessage((message) => this.#onMessage(message)),
      channel.onClose(() => this.#shut(() => unreachable('lost the IPC channel to the supervisor'))),
    ];
  }

  /** Calls waiting for an answer; for tests and diagnostics. */
  get pending(): number {
    return this.#pending.size;
  }

  call<M extends RpcMethod>(method: M, ...args: RpcArgs<M>): Promise<RpcResult<M>> {
    return this.callWithin(this.#timeoutMs, method, ...args);
  }

  /** A call with its own deadline: a task run takes as long as the task, not a store read's 5 s. */
  callWithin<M extends RpcMethod>(timeoutMs: number, method: M, ...args: RpcArgs<M>): Promise<RpcResult<M>> {
    if (this.#closedBy) return Promise.reject(this.#closedBy());
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(new StoreUnavailableError(`${this.#maxPending} calls to the supervisor already waiting`));
    }
    const id = ++lastId;
    const request = { cleave: PROTOCOL_VERSION, type: 'request', id, method, args } as RpcRequest;
    return new Promise<RpcResult<M>>((resolve, reject) => {
      try {
        this.#channel.send(request, (error) => {
          if (error) this.#settle(id, undefined, unreachable(`could not send ${method} to the supervisor`, error));
        });
      } catch (cause) {
        reject(new InternalError(`the arguments of ${method} cannot cross the IPC channel`, { cause }));
        return;
      }
      const timeout = (): void =>
        this.#settle(id, undefined, unreachable(`the supervisor did not answer ${method} within ${timeoutMs} ms`));
      this.#pending.set(id, { resolve, reject, timer: setTimeout(timeout, timeoutMs) });
    });
  }

  /** Fails every waiting call with ShuttingDownError and stops listening, so the process can exit. */
  close(): void {
    this.#shut(() => new ShuttingDownError('the IPC client is closed'));
  }

  #onMessage(message: unknown): void {
    if (!isIpcMessage(message) || message.type !== 'response') return;
    const response: RpcResponse = message;
    // An answer after its timeout, or to another client on this channel, has no taker here.
    if (!this.#pending.has(response.id)) return;
    if (response.ok) this.#settle(response.id, response.value);
    else this.#settle(response.id, undefined, fromWire(response.error));
  }

  #settle(id: number, value: unknown, error?: CleaveError): void {
    const call = this.#pending.get(id);
    if (call === undefined) return;
    this.#pending.delete(id);
    clearTimeout(call.timer);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  #shut(reason: () => CleaveError): void {
    if (this.#closedBy) return;
    this.#closedBy = reason;
    for (const stop of this.#stopListening) stop();
    for (const id of [...this.#pending.keys()]) this.#settle(id, undefined, reason());
  }
}

/**
 * The supervisor owns the store and the locks, so not reaching it is the store being
 * unavailable (503, retryable), whichever port the call came from.
 */
function unreachable(message: string, cause?: Error): StoreUnavailableError {
  return new StoreUnavailableError(message, cause === undefined ? undefined : { cause });
}
