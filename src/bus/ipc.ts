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
//
// A subscription with a group (a service's listeners: the group is the service) is its own:
// the hub sends each event to one member of the group, marked with it, and only that group's
// handlers here run for it.

import { InternalError } from '../errors.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import { isIpcMessage, PROTOCOL_VERSION, type PublishMessage, subscriptionKey } from '../ipc/messages.ts';
import type { Bus, EventHandler, SubscribeOptions } from './types.ts';
import type { TraceCarrier } from '../observability/tracing.ts';

export interface IpcBusOptions {
  /** Told about a listener that threw or rejected; the bus carries on. */
  onListenerError?: (error: unknown, topic: string) => void;
}

/** Handlers of one topic (and group) in this process. */
interface Subscription {
  topic: string;
  group: string | undefined;
  handlers: Set<EventHandler>;
  /**
   * A group's last handlers, kept from its unsubscribe until the hub confirms it: the hub may
   * already have sent this replica events of the group, and no other member will get them.
   */
  leaving: Set<EventHandler> | undefined;
  /** Resolves when the hub confirms the unsubscribe. */
  left: Promise<void> | undefined;
  confirm: (() => void) | undefined;
}

/** Longest stop() waits for the hub to confirm a group's unsubscribe. */
const LEAVE_TIMEOUT_MS = 1000;

export class IpcBus implements Bus {
  readonly #channel: IpcChannel;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #onListenerError: (error: unknown, topic: string) => void;
  readonly #stopListening: () => void;

  constructor(channel: IpcChannel, options: IpcBusOptions = {}) {
    this.#channel = channel;
    this.#onListenerError = options.onListenerError ?? (() => {});
    this.#stopListening = channel.onMessage((message) => {
      if (!isIpcMessage(message)) return;
      if (message.type === 'event')
        this.#deliver(subscriptionKey(message.topic, message.group), message.topic, message.payload, message.trace);
      else if (message.type === 'unsubscribed') this.#left(subscriptionKey(message.topic, message.group));
    });
  }

  async start(): Promise<void> {}

  /**
   * Tells the hub to stop forwarding this bus's topics and stops listening to the channel,
   * once the hub has confirmed the groups' unsubscribes (at most LEAVE_TIMEOUT_MS): the events
   * it sent this way until then are still handled.
   */
  async stop(): Promise<void> {
    for (const [key, subscription] of this.#subscriptions) {
      for (const handler of [...subscription.handlers]) this.#remove(key, handler);
    }
    const leaving = [...this.#subscriptions.values()].flatMap(({ left }) => (left ? [left] : []));
    if (leaving.length > 0 && !this.#channel.closed) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVE_TIMEOUT_MS)));
      await Promise.race([Promise.all(leaving), timeout]);
      clearTimeout(timer);
    }
    this.#subscriptions.clear();
    this.#stopListening();
  }

  /**
   * Resolves once the event is written to the channel, not when listeners ran: a publisher
   * that awaits goes at the pace of the pipe instead of queueing without bound. Rejects with
   * ShuttingDownError when the channel to the supervisor is closed.
   */
  publish(topic: string, payload: unknown, trace?: TraceCarrier): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        const message: PublishMessage = { cleave: PROTOCOL_VERSION, type: 'publish', topic, payload };
        if (trace !== undefined) message.trace = trace;
        this.#channel.send(message, (error) => (error ? reject(error) : resolve()));
      } catch (cause) {
        reject(new InternalError(`the payload for ${topic} cannot cross the IPC channel`, { cause }));
      }
    });
  }

  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    const key = subscriptionKey(topic, options.group);
    let subscription = this.#subscriptions.get(key);
    if (subscription === undefined) {
      subscription = {
        topic,
        group: options.group,
        handlers: new Set(),
        leaving: undefined,
        left: undefined,
        confirm: undefined,
      };
      this.#subscriptions.set(key, subscription);
    }
    // The first handler, or the first since the last left: the hub hears of it (again).
    if (subscription.handlers.size === 0) this.#tellHub('subscribe', topic, options.group);
    subscription.leaving = undefined;
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
    this.#tellHub('unsubscribe', subscription.topic, subscription.group);
    if (subscription.group === undefined || this.#channel.closed) {
      this.#subscriptions.delete(key);
      return;
    }
    subscription.leaving = new Set([handler]);
    subscription.left ??= new Promise((resolve) => (subscription.confirm = resolve));
  }

  /** The hub confirmed a group's unsubscribe: nothing more of it is on its way here. */
  #left(key: string): void {
    const subscription = this.#subscriptions.get(key);
    if (subscription === undefined) return;
    subscription.confirm?.();
    subscription.left = subscription.confirm = undefined;
    subscription.leaving = undefined;
    if (subscription.handlers.size === 0) this.#subscriptions.delete(key);
  }

  /** A closed channel drops the message: the hub has already forgotten this channel. */
  #tellHub(type: 'subscribe' | 'unsubscribe', topic: string, group: string | undefined): void {
    this.#channel.send({ cleave: PROTOCOL_VERSION, type, topic, ...(group === undefined ? {} : { group }) });
  }

  #deliver(key: string, topic: string, payload: unknown, trace: TraceCarrier | undefined): void {
    const subscription = this.#subscriptions.get(key);
    if (subscription === undefined) return;
    const handlers = subscription.handlers.size > 0 ? subscription.handlers : subscription.leaving;
    if (handlers === undefined) return;
    // Each handler gets its own copy, as MemoryBus gives: one handler's changes stay its own.
    for (const handler of [...handlers]) {
      try {
        const result = handler(structuredClone(payload), topic, trace);
        if (result instanceof Promise) result.catch((error: unknown) => this.#onListenerError(error, topic));
      } catch (error) {
        this.#onListenerError(error, topic);
      }
    }
  }
}
