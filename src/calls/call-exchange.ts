// One call's hop to a replica, as an undici dispatch handler: the answer's chunks are kept and
// parsed once it ends. undici's request() would wrap every answer in a Readable stream first;
// for answers this small that machinery cost more than the parse (bench/calls.ts, split).

import type { Dispatcher } from 'undici';

export interface CallAnswer {
  status: number;
  body: Buffer;
}

/** One attempt: its answer, and a way to stop it (the call's deadline passed). */
export interface Exchange {
  answer: Promise<CallAnswer>;
  abort(reason: Error): void;
}

export function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Exchange {
  let handler!: CallHandler;
  const answer = new Promise<CallAnswer>((resolve, reject) => {
    handler = new CallHandler(resolve, reject);
    dispatcher.dispatch(options, handler);
  });
  return { answer, abort: (reason) => handler.abort(reason) };
}

class CallHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  readonly #chunks: Buffer[] = [];
  readonly #resolve: (answer: CallAnswer) => void;
  readonly #reject: (error: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #aborted: Error | undefined;

  constructor(resolve: (answer: CallAnswer) => void, reject: (error: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Stops the attempt now, or as soon as its connection is there (a connect can't be cut short). */
  abort(reason: Error): void {
    this.#aborted = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }

  // Its presence also tells undici this handler speaks the controller API.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#aborted) controller.abort(this.#aborted);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    this.#resolve({ status: this.#status, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#reject(error);
  }
}
