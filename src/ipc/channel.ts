// The one transport both ends of split mode use: a replica's end of its fork() IPC channel
// and the supervisor's end of each child's. Adapters and the hub only see IpcChannel, so
// tests can run them over an in-memory pair and nothing else knows about child_process.
//
// Backpressure: Node never drops an IPC message; when the pipe is full, send() queues it in
// memory and returns false. Blocking a sender would stall the supervisor on its slowest
// replica, and dropping would break exactly-once events, so the channel only counts what is
// queued (`backlog`) and tells a sender when its message is written (`onWritten`). Callers
// decide: RPC calls are bounded by their timeout and a cap on calls in flight, a replica's
// publish() resolves only once written (an awaiting publisher goes at the pipe's pace),
// and the hub warns about a replica whose backlog keeps growing.

import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { InternalError, ShuttingDownError } from '../errors.ts';
import type { IpcMessage } from './messages.ts';

export type WrittenCallback = (error?: ShuttingDownError) => void;

export interface IpcChannel {
  /**
   * Queues `message` for the peer and never blocks. `onWritten` runs once: without an error
   * when Node has written the message, with ShuttingDownError when the channel is or becomes
   * closed. Throws at once only when the message cannot be serialised (the caller's bug).
   */
  send(message: IpcMessage, onWritten?: WrittenCallback): void;
  /** Every message from the peer, cleave's or not; returns the function that stops listening. */
  onMessage(listener: (message: unknown) => void): () => void;
  /** Runs once when the channel closes; on the next tick if it is closed already. */
  onClose(listener: () => void): () => void;
  readonly closed: boolean;
  /** Messages accepted by send() and not yet written to the pipe. */
  readonly backlog: number;
}

/** A replica's end: its own process's channel to the parent that forked it. */
export function channelOfProcess(): IpcChannel {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new InternalError(
      'this process has no IPC channel: a replica must be started with child_process.fork() (or stdio "ipc")',
    );
  }
  return new NodeIpcChannel(process, {
    isConnected: () => process.connected,
    send: (message, callback) => send(message, undefined, undefined, callback),
  });
}

/** The supervisor's end of a forked child's channel. */
export function channelOfChild(child: ChildProcess): IpcChannel {
  if (typeof child.send !== 'function' || child.channel == null) {
    throw new InternalError(`child ${child.pid ?? '?'} has no IPC channel: start it with child_process.fork()`);
  }
  return new NodeIpcChannel(child, {
    isConnected: () => child.connected,
    send: (message, callback) => child.send(message, callback),
  });
}

interface Endpoint {
  isConnected(): boolean;
  send(message: IpcMessage, callback: (error: Error | null) => void): void;
}

class NodeIpcChannel implements IpcChannel {
  #backlog = 0;

  private readonly emitter: EventEmitter;
  private readonly endpoint: Endpoint;

  constructor(emitter: EventEmitter, endpoint: Endpoint) {
    this.emitter = emitter;
    this.endpoint = endpoint;
  }

  get closed(): boolean {
    return !this.endpoint.isConnected();
  }

  get backlog(): number {
    return this.#backlog;
  }

  send(message: IpcMessage, onWritten?: WrittenCallback): void {
    // Checked first: Node's send() on a closed channel emits 'error' on the process or
    // child when given no callback, which would crash a process that has no listener.
    if (this.closed) {
      if (onWritten) process.nextTick(onWritten, channelClosed());
      return;
    }
    // Always a callback, for the same reason; counted after send() so a message that
    // fails to serialise (a synchronous throw) is never counted.
    this.endpoint.send(message, (error) => {
      this.#backlog--;
      onWritten?.(error ? channelClosed(error) : undefined);
    });
    this.#backlog++;
  }

  onMessage(listener: (message: unknown) => void): () => void {
    // Node refs the channel while a 'message' listener exists, so removing the last one
    // is what lets a replica exit on its own.
    const relay = (message: unknown): void => listener(message);
    this.emitter.on('message', relay);
    return () => this.emitter.off('message', relay);
  }

  onClose(listener: () => void): () => void {
    if (this.closed) {
      let cancelled = false;
      process.nextTick(() => cancelled || listener());
      return () => (cancelled = true);
    }
    this.emitter.once('disconnect', listener);
    return () => this.emitter.off('disconnect', listener);
  }
}

function channelClosed(cause?: Error): ShuttingDownError {
  return new ShuttingDownError('the IPC channel is closed', cause === undefined ? undefined : { cause });
}
