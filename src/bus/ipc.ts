// The Bus in a split-mode replica: events go through the supervisor's hub (src/ipc/hub.ts),
// which orders them and sends each once to every channel subscribed to its topic, this
// replica's included. Local handlers run only when an event comes back from the hub, never
// straight from publish(): delivering locally first would let this replica see its own
// events ahead of earlier ones from other replicas, and the hub could not keep one order.
//
// The hub learns a topic when its first handler here subscribes and forgets it when the
// last leaves, so it never forwards events nobody here wants. A subscription with a group (a
// service's listeners: the group is the service) is its own: the hub sends each event to one
// member of the group, marked with it, and only that group's handlers here run for it. A subscription takes effect
// when the hub reads it: an event published elsewhere meanwhile is not delivered; one
// published later by this replica always is (a channel keeps its messages in order).

import { InternalError } from '../errors.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import type { Bus, EventHandler, SubscribeOptions } from './types.ts';

export interface IpcBusOptions {
  /** Told about a listener that threw or rejected; the bus carries on. */
  onListenerError?: (error: unknown, topic: string) => void;
}

/** Handlers of one topic (and group) in this process. */
interface Subscription {
  topic: string;
  group: string | undefined;
  handlers: Set<EventHandler>;
}

const keyOf = (topic: string, group: string | undefined) => (group === undefined ? topic : `${topic}\u0000${group}`);

export class IpcBus implements Bus {
  readonly #channel: IpcChannel;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #onListenerError: (error: unknown, topic: string) => void;
  readonly #stopListening: () => void;

  constructor(channel: IpcChannel, options: IpcBusOptions = {}) {
    this.#channel = channel;
    this.#onListenerError = options.onListenerError ?? (() => {});
    this.#stopListening = channel.onMessage((message) => {
      if (isIpcMessage(message) && message.type === 'event') {
        this.#deliver(keyOf(message.topic, message.group), message.topic, message.payload);
      }
    });
  }

  async start(): Promise<void> {}

  /** Tells the hub to stop forwarding this bus's topics and stops listening to the channel. */
  async stop(): Promise<void> {
    for (const { topic, group } of this.#subscriptions.values()) this.#tellHub('unsubscribe', topic, group);
    this.#subscriptions.clear();
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

  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    const key = keyOf(topic, options.group);
    let subscription = this.#subscriptions.get(key);
    if (subscription === undefined) {
      subscription = { topic, group: options.group, handlers: new Set() };
      this.#subscriptions.set(key, subscription);
      this.#tellHub('subscribe', topic, options.group);
    }
    subscription.handlers.add(handler);
    return () => this.#remove(key, handler);
  }

  unsubscribe(topic: string, handler: EventHandler): void {
    for (const [key, subscription] of this.#subscriptions) {
      if (subscription.topic === topic && subscription.handlers.has(handler)) return this.#remove(key, handler);
    }
  }

  #remove(key: string, handler: EventHandler): void {
    const subscription = this.#subscriptions.get(key);
    if (subscription === undefined || !subscription.handlers.delete(handler)) return;
    if (subscription.handlers.size > 0) return;
    this.#subscriptions.delete(key);
    this.#tellHub('unsubscribe', subscription.topic, subscription.group);
  }

  /** A closed channel drops the message: the hub has already forgotten this channel. */
  #tellHub(type: 'subscribe' | 'unsubscribe', topic: string, group: string | undefined): void {
    this.#channel.send({ cleave: PROTOCOL_VERSION, type, topic, ...(group === undefined ? {} : { group }) });
  }

  #deliver(key: string, topic: string, payload: unknown): void {
    const handlers = this.#subscriptions.get(key)?.handlers;
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
