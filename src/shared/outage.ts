// What the log hears while a backing server or disk can't serve (a full disk, a database or
// Redis that is down): the full error, once when calls start failing and again only if the
// reason changes, then one line when one succeeds again. Every refused call is answered
// anyway (a 503, a count kept in the process); an error line per request would bury the one
// that says why.

export interface OutageLog {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface OutageOptions {
  now?: () => number;
  /** The line that opens an outage. */
  failedMessage?: string;
  /** The line that closes one. */
  resumedMessage?: string;
}

export class Outage {
  readonly #log: OutageLog;
  /** Fields every line carries, e.g. the store's file. */
  readonly #context: object;
  readonly #now: () => number;
  readonly #failedMessage: string;
  readonly #resumedMessage: string;
  #since: number | undefined;
  #reason: string | undefined;
  #failedWrites = 0;

  constructor(log: OutageLog, context: object, options: OutageOptions = {}) {
    this.#log = log;
    this.#context = context;
    this.#now = options.now ?? Date.now;
    this.#failedMessage =
      options.failedMessage ?? 'store cannot write to disk; writes are answered 503 and retried with each new one';
    this.#resumedMessage = options.resumedMessage ?? 'store writes resumed';
  }

  /** `writes`: how many callers this failure refused. */
  failed(error: unknown, writes: number): void {
    const reason = (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
    this.#failedWrites += writes;
    if (this.#since !== undefined && reason === this.#reason) return;
    this.#since ??= this.#now();
    this.#reason = reason;
    this.#log.error({ ...this.#context, err: error }, this.#failedMessage);
  }

  succeeded(): void {
    if (this.#since === undefined) return;
    this.#log.info(
      { ...this.#context, failedWrites: this.#failedWrites, outageMs: this.#now() - this.#since },
      this.#resumedMessage,
    );
    this.#since = undefined;
    this.#reason = undefined;
    this.#failedWrites = 0;
  }
}
