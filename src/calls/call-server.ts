// The callee's side of split calls: a unix socket next to the replica's HTTP one
// (`<socket>.calls`), framed (frames.ts), many calls in flight per connection. Only other
// replicas reach it: it sits in the supervisor's private folder and is never routed to.

import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { InternalError } from '../errors.ts';
import { toWire } from '../shared/error-wire.ts';
import type { ActionCaller } from './action-caller.ts';
import { answerCall } from './answer-call.ts';
import { parseUntrustedJson } from '../shared/untrusted-json.ts';
import { encodeFrame, FrameReader, type AnswerFrame, type CallFrame } from './frames.ts';
import { InFlightMeter } from '../observability/in-flight.ts';

/** Where a replica listening at `socketPath` takes calls. */
export const callSocketOf = (socketPath: string) => `${socketPath}.calls`;

export class CallServer {
  readonly #caller: ActionCaller;
  readonly #local: ReadonlySet<string>;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Calls being run here: the autoscaler counts them with the HTTP requests. */
  readonly inFlight = new InFlightMeter();
  #stopping = false;
  #path: string | undefined;

  constructor(caller: ActionCaller, local: ReadonlySet<string>, log: Logger) {
    this.#caller = caller;
    this.#local = local;
    this.#log = log;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  async listen(path: string): Promise<void> {
    await rm(path, { force: true });
    this.#path = path;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(path, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** Takes no new call (answered "not run", so the caller tries another replica), finishes the rest. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#server.close();
    const deadline = Date.now() + graceMs;
    while (this.inFlight.current > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const socket of this.#sockets) socket.destroy();
    if (this.#path) await rm(this.#path, { force: true });
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    const reader = new FrameReader(parseUntrustedJson);
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        // The stream can't be read past a broken frame: end it; the caller's calls on it fail.
        this.#log.warn({ err: error }, 'malformed call frame: connection closed');
        socket.destroy();
        return;
      }
      for (const frame of frames) void this.#answer(socket, frame as CallFrame);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
  }

  async #answer(socket: Socket, call: CallFrame): Promise<void> {
    let answer: AnswerFrame;
    if (this.#stopping) {
      answer = { i: call.i, n: 1 };
    } else {
      this.inFlight.change(1);
      answer = { i: call.i, ...(await answerCall(this.#caller, this.#local, call)) };
      this.inFlight.change(-1);
    }
    if (socket.destroyed) return;
    let bytes: Buffer;
    try {
      bytes = encodeFrame(answer);
    } catch (error) {
      // An output JSON can't carry (a cycle, a BigInt) or over the frame limit: this call fails,
      // the connection and the other calls on it go on.
      this.#log.error({ err: error, requestId: call.r, action: call.a }, 'call output cannot be sent');
      bytes = encodeFrame({
        i: call.i,
        e: toWire(new InternalError(`${call.a} returned an output that can't be sent`)),
      });
    }
    socket.write(bytes);
  }
}
