// The in-process Bus: the embedded default. Handlers run after publish()'s
// caller continues (microtask), so an emitter never waits on its listeners
// and a listener's failure never reaches the emitter.
// A subscription's group changes nothing here: in one process each group has
// one member, which hears every event.

import type { TraceCarrier } from '../observability/tracing.ts';
import type { Bus, EventHandler } from './types.ts';

export interface MemoryBusOptions {
  /** Told about a listener that threw or rejected; the bus carries on. */
  onListenerError?: (error: unknown, topic: string) => void;
}

export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Set<EventHandler>>();
  private readonly onListenerError: (error: unknown, topic: string) => void;

  constructor(options: MemoryBusOptions = {}) {
    this.onListenerError = options.onListenerError ?? (() => {});
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.topics.clear();
  }

  async publish(topic: string, payload: unknown, trace?: TraceCarrier): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers || handlers.size === 0) return;
    // Each listener gets its own copy: in split mode payloads cross a process
    // boundary, so a listener mutating its payload must not be visible to others.
    for (const handler of [...handlers]) {
      queueMicrotask(() => this.deliver(handler, structuredClone(payload), topic, trace));
    }
  }

  subscribe(topic: string, handler: EventHandler): () => void {
    let handlers = this.topics.get(topic);
    if (!handlers) {
      handlers = new Set();
      this.topics.set(topic, handlers);
    }
    handlers.add(handler);
    return () => this.unsubscribe(topic, handler);
  }

  unsubscribe(topic: string, handler: EventHandler): void {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    handlers.delete(handler);
    if (handlers.size === 0) this.topics.delete(topic);
  }

  private deliver(handler: EventHandler, payload: unknown, topic: string, trace: TraceCarrier | undefined): void {
    try {
      const result = handler(payload, topic, trace);
      if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(error, topic));
    } catch (error) {
      this.onListenerError(error, topic);
    }
  }
}
