// The Bus port: fire-and-forget events by topic. In-process today; the
// supervisor hub (IPC) and NATS adapters implement the same interface.

import type { TraceCarrier } from '../observability/tracing.ts';

/** `trace`: the emitting span's trace context, when it was traced (observability/tracing.ts). */
export type EventHandler<T = unknown> = (payload: T, topic: string, trace?: TraceCarrier) => void | Promise<void>;

export interface SubscribeOptions {
  group?: string;
}

export interface Bus {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Delivers to every current subscriber of `topic`; never throws for a listener's error.
   * `trace` reaches each handler as it was given, beside the payload, never in it.
   */
  publish(topic: string, payload: unknown, trace?: TraceCarrier): Promise<void>;
  /**
   * Returns the function that removes this subscription. With a `group`, an event reaches one
   * process among those subscribed in that group (a service's replicas: its listeners run
   * once per event, not once per replica); without, every subscribed process.
   */
  subscribe(topic: string, handler: EventHandler, options?: SubscribeOptions): () => void;
  unsubscribe(topic: string, handler: EventHandler): void;
}
