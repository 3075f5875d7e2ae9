// Closing keep-alive connections on a graceful stop without cutting a request in transit.
// A connection that looks idle may be carrying a client's next request right now: closing it
// at once (what server.closeIdleConnections() does) resets that request, and a client can't
// retry a POST it doesn't know was never read. So while draining, each connection closes
// itself after its next answer (`Connection: close`), and one with nothing in flight is
// closed only once nothing has arrived on it for DRAIN_IDLE_MS — the same bet a keep-alive
// timeout makes, not a bet on the next microsecond (issue 12, item 3).

import type { Socket } from 'node:net';

/** How long a connection must have been quiet before a draining server closes it. */
export const DRAIN_IDLE_MS = 500;

/** How often a draining server looks for connections quiet long enough. */
const SWEEP_EVERY_MS = 50;

const STATE = Symbol('cleave.connection');

interface ConnectionState {
  /** Requests read and not yet answered. */
  active: number;
  /** When it last answered, opened, or was seen receiving bytes. */
  quietSince: number;
  /** socket.bytesRead when last looked at: a request being received changes it. */
  bytesRead: number;
}

type TrackedSocket = Socket & { [STATE]?: ConnectionState };

export class ConnectionDrain {
  readonly #connections = new Set<TrackedSocket>();
  #sweeper: NodeJS.Timeout | undefined;

  /** A connection opened (TCP, or TLS once its handshake is done). */
  opened(socket: Socket): void {
    const tracked = socket as TrackedSocket;
    tracked[STATE] = { active: 0, quietSince: performance.now(), bytesRead: socket.bytesRead };
    this.#connections.add(tracked);
    tracked.once('close', () => this.#connections.delete(tracked));
  }

  /** Upgraded to a WebSocket: its own hub closes it. */
  forget(socket: Socket): void {
    this.#connections.delete(socket);
  }

  requestStarted(socket: Socket): void {
    const state = (socket as TrackedSocket)[STATE];
    if (state) state.active += 1;
  }

  requestEnded(socket: Socket): void {
    const state = (socket as TrackedSocket)[STATE];
    if (!state) return;
    state.active -= 1;
    state.quietSince = performance.now();
    state.bytesRead = socket.bytesRead;
  }

  /** From now on, close each connection once it has been quiet for `idleMs`. */
  start(idleMs = DRAIN_IDLE_MS): void {
    if (this.#sweeper) return;
    this.#sweep(idleMs);
    // Unref'd: the server's own close keeps the process alive while connections are open.
    this.#sweeper = setInterval(() => this.#sweep(idleMs), SWEEP_EVERY_MS).unref();
  }

  stop(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(idleMs: number): void {
    const now = performance.now();
    for (const socket of this.#connections) {
      const state = socket[STATE] as ConnectionState;
      if (state.active > 0) continue;
      if (socket.bytesRead !== state.bytesRead) {
        state.bytesRead = socket.bytesRead;
        state.quietSince = now;
      } else if (now - state.quietSince >= idleMs) {
        socket.destroy();
      }
    }
  }
}
