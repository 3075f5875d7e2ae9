// The caller's side of split calls: one framed connection per callee replica (frames.ts),
// opened on the first call and reopened after it breaks, with every call in flight on it
// told apart by its number. A connection that fails before it opened rejects its calls with
// the socket's own error (ENOENT, ECONNREFUSED: nothing reached the replica); one that
// breaks later, with ECONNRESET (the replica may have run them) — the codes the gateway's
// retry rule already reads (upstream/upstream-failure.ts).

import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameReader, type AnswerFrame, type CallFrame } from './frames.ts';

interface Pending {
  resolve(answer: AnswerFrame): void;
  reject(error: Error): void;
}

/** One call on a connection: its answer, and a way to stop waiting for it (the deadline passed). */
export interface PendingCall {
  answer: Promise<AnswerFrame>;
  abort(reason: Error): void;
}

export class CallConnection {
  readonly #path: string;
  #socket: Socket | undefined;
  #opened = false;
  #reader = new FrameReader();
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #closeWhenIdle = false;

  constructor(path: string) {
    this.#path = path;
  }

  /** Throws, sending nothing, for an input JSON can't carry or one over the frame limit. */
  call(frame: Omit<CallFrame, 'i'>): PendingCall {
    const id = (this.#next = (this.#next + 1) % Number.MAX_SAFE_INTEGER);
    // Encoded before anything else: a frame that can't be sent leaves nothing behind.
    const bytes = encodeFrame({ ...frame, i: id });
    const socket = this.#socket ?? this.#open();
    const answer = new Promise<AnswerFrame>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    // Written at once, even while connecting: the socket queues it, and Node batches the
    // writes of calls made in one turn into one writev.
    socket.write(bytes);
    return {
      answer,
      abort: (reason) => {
        const pending = this.#pending.get(id);
        if (!pending) return;
        this.#pending.delete(id);
        pending.reject(reason);
        if (this.#closeWhenIdle && this.#pending.size === 0) this.close();
      },
    };
  }

  close(): void {
    this.#socket?.destroy();
  }

  /**
   * Closes once the calls in flight have their answers: a replica leaving by scale-down
   * finishes them (its CallServer drains) and none of them is lost to our side hanging up.
   */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.#pending.size === 0) this.close();
  }

  #open(): Socket {
    const socket = connect(this.#path);
    this.#socket = socket;
    this.#opened = false;
    this.#reader = new FrameReader();
    socket.once('connect', () => (this.#opened = true));
    socket.on('data', (chunk: Buffer) => {
      let answers: unknown[];
      try {
        answers = this.#reader.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      for (const answer of answers as AnswerFrame[]) {
        const pending = this.#pending.get(answer.i);
        if (!pending) continue; // given up on (its deadline passed)
        this.#pending.delete(answer.i);
        pending.resolve(answer);
      }
      if (this.#closeWhenIdle && this.#pending.size === 0) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(socket, error));
    socket.on('close', () => this.#fail(socket, undefined));
    return socket;
  }

  #fail(socket: Socket, error: NodeJS.ErrnoException | undefined): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    socket.destroy();
    const reason: NodeJS.ErrnoException = this.#opened
      ? Object.assign(new Error('the replica closed the call connection'), { code: 'ECONNRESET' })
      : (error ?? Object.assign(new Error('the call connection did not open'), { code: 'ECONNREFUSED' }));
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) call.reject(reason);
  }
}
