// The Bus on the NATS every node shares. An event is a JSON message on its topic's subject
// (nats/subjects.ts), so a subscription hears it in every process of every node. With a
// group (a service's listeners), the subscription is a NATS queue subscription named after
// the group: NATS hands each event to one member across all nodes, so a listener runs once
// per event however many replicas and nodes run its service.
//
// One NATS subscription per topic (and group) in this process, however many handlers: each
// handler decodes the message itself, so each gets its own copy. Events are at most once: one
// published while this process is cut off from NATS does not reach it.

import type { Subscription } from '@nats-io/transport-node';
import { InternalError, ShuttingDownError } from '../errors.ts';
import type { NatsConnection } from '../nats/connection.ts';
import { eventSubject, token } from '../nats/subjects.ts';
import type { Bus, EventHandler, SubscribeOptions } from './types.ts';
import type { TraceCarrier } from '../observability/tracing.ts';
import { traceHeaders, traceOfHeaders } from '../nats/trace-headers.ts';

export interface NatsBusOptions {
  /** The app's name: its subjects, apart from other apps on the same NATS. */
  app: string;
  /** Told about a listener that threw or rejected; the bus carries on. */
  onListenerError?: (error: unknown, topic: string) => void;
}

interface Subscribed {
  topic: string;
  group: string | undefined;
  handlers: Set<EventHandler>;
  /**
   * A group's last handlers, kept while its subscription drains: events NATS already sent this
   * member reach no other, so they are still handled here.
   */
  leaving: Set<EventHandler> | undefined;
  subscription: Subscription;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsBus implements Bus {
  readonly #nats: NatsConnection;
  readonly #app: string;
  readonly #onListenerError: (error: unknown, topic: string) => void;
  /** `topic` + group → its NATS subscription and the handlers here. */
  readonly #subscribed = new Map<string, Subscribed>();

  /** `nats` is started and stopped by whoever made it (the process's ports). */
  constructor(nats: NatsConnection, options: NatsBusOptions) {
    this.#nats = nats;
    this.#app = options.app;
    this.#onListenerError = options.onListenerError ?? (() => {});
  }

  async start(): Promise<void> {}

  /** Unsubscribes, after handling the events NATS already sent this way. */
  async stop(): Promise<void> {
    const subscriptions = [...this.#subscribed.values()].map(({ subscription }) => subscription);
    this.#subscribed.clear();
    await Promise.all(subscriptions.map((subscription) => subscription.drain().catch(() => undefined)));
  }

  /**
   * Resolves once the event is handed to the NATS client, which sends it (or, while
   * reconnecting, buffers it) in order. Rejects with ShuttingDownError once the connection
   * is closed.
   */
  async publish(topic: string, payload: unknown, trace?: TraceCarrier): Promise<void> {
    let data: Uint8Array;
    try {
      data = payload === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(payload));
    } catch (cause) {
      throw new InternalError(`the payload for ${topic} cannot be sent as JSON`, { cause });
    }
    const client = this.#nats.client;
    if (client.isClosed() || client.isDraining()) throw new ShuttingDownError('the NATS connection is closed');
    const carried = traceHeaders(trace);
    client.publish(eventSubject(this.#app, topic), data, carried === undefined ? undefined : { headers: carried });
  }

  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    const key = keyOf(topic, options.group);
    let subscribed = this.#subscribed.get(key);
    if (subscribed === undefined) {
      const entry: Omit<Subscribed, 'subscription'> = {
        topic,
        group: options.group,
        handlers: new Set(),
        leaving: undefined,
      };
      const subscription = this.#nats.client.subscribe(eventSubject(this.#app, topic), {
        ...(options.group === undefined ? {} : { queue: token(options.group) }),
        callback: (error, message) => {
          if (error) return this.#onListenerError(error, topic);
          const handlers = entry.handlers.size > 0 ? entry.handlers : (entry.leaving ?? entry.handlers);
          const trace = traceOfHeaders(message);
          for (const each of [...handlers]) this.#deliver(each, message.data, topic, trace);
        },
      });
      subscribed = Object.assign(entry, { subscription });
      this.#subscribed.set(key, subscribed);
    }
    subscribed.handlers.add(handler);
    return () => this.#remove(key, handler);
  }

  unsubscribe(topic: string, handler: EventHandler): void {
    for (const [key, subscribed] of this.#subscribed) {
      if (subscribed.topic === topic && subscribed.handlers.has(handler)) return this.#remove(key, handler);
    }
  }

  #remove(key: string, handler: EventHandler): void {
    const subscribed = this.#subscribed.get(key);
    if (subscribed === undefined || !subscribed.handlers.delete(handler) || subscribed.handlers.size > 0) return;
    this.#subscribed.delete(key);
    if (subscribed.group !== undefined) subscribed.leaving = new Set([handler]);
    // Drained, not cut: a group's events already on their way here are still handled.
    void subscribed.subscription.drain().catch(() => undefined);
  }

  #deliver(handler: EventHandler, data: Uint8Array, topic: string, trace: TraceCarrier | undefined): void {
    try {
      const payload: unknown = data.length === 0 ? undefined : JSON.parse(decoder.decode(data));
      const result = handler(payload, topic, trace);
      if (result instanceof Promise) result.catch((error: unknown) => this.#onListenerError(error, topic));
    } catch (error) {
      this.#onListenerError(error, topic);
    }
  }
}

function keyOf(topic: string, group: string | undefined): string {
  return group === undefined ? topic : `${topic}\0${group}`;
}
