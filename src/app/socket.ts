// A WebSocket route: open / message / close handlers plus bus topics the
// socket listens to while it is open.

import type { RequestContext } from './context.ts';

export interface CleaveSocket {
  readonly id: string;
  /** Sends a string as is, anything else as JSON. Dropped when the socket is not open. */
  send(data: unknown): void;
  /**
   * Forwards a bus topic to this socket until it closes. Without `map`, the
   * socket receives `{ "type": topic, "data": payload }`.
   */
  subscribe<T = unknown>(topic: string, map?: (payload: T) => unknown): () => void;
  close(code?: number, reason?: string): void;
}

export interface SocketHandlers {
  /** Called once the upgrade is accepted. Throwing closes the socket with 1011. */
  open?(socket: CleaveSocket, ctx: RequestContext): void | Promise<void>;
  /** Text frames are JSON-parsed when they parse, else passed as a string. */
  message?(socket: CleaveSocket, data: unknown, ctx: RequestContext): void | Promise<void>;
  close?(socket: CleaveSocket, code: number, reason: string): void | Promise<void>;
  /** Topics forwarded to the socket while it is open, each mapped to the frame to send. */
  events?: Record<string, (payload: never, socket: CleaveSocket) => unknown>;
}

export interface SocketOptions {
  /** Largest accepted frame in bytes; a bigger one closes the socket with 1009. @default 64 KiB */
  maxPayload?: number;
  /** Refuse the upgrade with 401 unless the request is authenticated. @default false */
  auth?: boolean;
}

export interface SocketDefinition {
  readonly service: string;
  readonly path: string;
  readonly handlers: SocketHandlers;
  readonly options: SocketOptions;
}
