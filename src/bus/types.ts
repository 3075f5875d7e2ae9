// The Bus port: fire-and-forget events by topic. In-process today; the
// supervisor hub (IPC) and NATS adapters implement the same interface.

export type EventHandler<T = unknown> = (payload: T, topic: string) => void | Promise<void>;

export interface Bus {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Delivers to every current subscriber of `topic`; never throws for a listener's error. */
  publish(topic: string, payload: unknown): Promise<void>;
  /** Returns the function that removes this subscription. */
  subscribe(topic: string, handler: EventHandler): () => void;
  unsubscribe(topic: string, handler: EventHandler): void;
}
