// One call's hop to a replica, as an undici dispatch handler: the answer's chunks are kept and
// parsed once it ends. undici's request() would wrap every answer in a Readable stream first;
// for answers this small that machinery cost more than the parse (bench/calls.ts, split).

import type { Dispatcher } from 'undici';

export interface CallAnswer {
  status: number;
  body: Buffer;
}

export function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<CallAnswer> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new CallHandler(resolve, reject));
  });
}

class CallHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  readonly #chunks: Buffer[] = [];
  readonly #resolve: (answer: CallAnswer) => void;
  readonly #reject: (error: Error) => void;

  constructor(resolve: (answer: CallAnswer) => void, reject: (error: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  // Its presence tells undici this handler speaks the controller API.
  onRequestStart(): void {}

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
