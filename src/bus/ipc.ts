// The Bus in a split-mode replica: events go through the supervisor's hub (src/ipc/hub.ts),
// which orders them and sends each once to every channel subscribed to its topic, this
// replica's included. Local handlers run only when an event comes back from the hub, never
// straight from publish(): delivering locally first would let this replica see its own
// events ahead of earlier ones from other replicas, and the hub could not keep one order.
//
// The hub learns a topic when its first handler here subscribes and forgets it when the
// last leaves, so it never forwards events nobody here wants. A subscription takes effect
// when the hub reads it: an event published elsewhere meanwhile is not delivered; one
// published later by this replica always is (a channel keeps its messages in order).

import { InternalError } from '../errors.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import type { Bus, EventHandler } from './types.ts';

export interface IpcBusOptions {
  /** Told about a listener that threw or rejected; the bus carries on. */
  onListenerError?: (error: unknown, topic: string) => void;
}

export class IpcBus implements Bus {
  readonly #channel: IpcChannel;
  readonly #topics = new Map<string, Set<EventHandler>>();
  readonly #onListenerError: (error: unknown, topic: string) => void;
  readonly #stopListening: () => void;

  constructor(channel: IpcChannel, options: IpcBusOptions = {}) {
    this.#channel = channel;
    this.#onListenerError = options.onListenerError ?? (() => {});
    this.#stopListening = channel.onMessage((message) => {
      if (isIpcMessage(message) && message.type === 'event') this.#deliver(message.topic, message.payload);
    });
  }

  async start(): Promise<void> {}

  /** Tells the hub to stop forwarding this bus's topics and stops listening to the channel. */
  async stop(): Promise<void> {
    for (const topic of this.#topics.keys()) this.#tellHub('unsubscribe', topic);
    this.#topics.clear();
    this.#stopListening();
  }

  /**
   * Resolves once the event is written to the channel, not when listeners ran: a publisher
   * that awaits goes at the pace of the pipe instead of queueing without bound. Rejects with
   * ShuttingDownError when the channel to the supervisor is closed.
   */
  publish(topic: string, payload: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#channel.send({ cleave: PROTOCOL_VERSION, type: 'publish', topic, payload }, (error) =>
          error ? reject(error) : resolve(),
        );
      } catch (cause) {
        reject(new InternalError(`the payload for ${topic} cannot cross the IPC channel`, { cause }));
      }
    });
  }

  subscribe(topic: string, handler: EventHandler): () => void {
    let handlers = this.#topics.get(topic);
    if (handlers === undefined) {
      this.#topics.set(topic, (handlers = new Set()));
      this.#tellHub('subscribe', topic);
    }
    handlers.add(handler);
    return () => this.unsubscribe(topic, handler);
  }

  unsubscribe(topic: string, handler: EventHandler): void {
    const handlers = this.#topics.get(topic);
    if (handlers === undefined || !handlers.delete(handler)) return;
    if (handlers.size > 0) return;
    this.#topics.delete(topic);
    this.#tellHub('unsubscribe', topic);
  }

  /** A closed channel drops the message: the hub has already forgotten this channel. */
  #tellHub(type: 'subscribe' | 'unsubscribe', topic: string): void {
    this.#channel.send({ cleave: PROTOCOL_VERSION, type, topic });
  }

  #deliver(topic: string, payload: unknown): void {
    const handlers = this.#topics.get(topic);
    if (handlers === undefined) return;
    // Each handler gets its own copy, as MemoryBus gives: one handler's changes stay its own.
    for (const handler of [...handlers]) {
      try {
        const result = handler(structuredClone(payload), topic);
        if (result instanceof Promise) result.catch((error: unknown) => this.#onListenerError(error, topic));
      } catch (error) {
        this.#onListenerError(error, topic);
      }
    }
  }
}
