// Bounds retries pool-wide: over a sliding window, retries may add at most `ratio` of the
// requests seen, plus a small floor per second (Finagle's and tower's RetryBudget; gRPC's retry
// throttling is the same idea). A per-request cap alone lets a struggling pool see every request
// three times — a retry storm; this keeps the extra load to a fifth.
//
// Counted over time rather than over requests in flight at one instant (Envoy's budget_percent):
// when a replica dies, every request it held fails in the same tick — a third of the in-flight
// requests with three replicas — and an instantaneous 20% would turn most of them into errors
// although the pool as a whole has plenty of headroom.

export interface RetryBudgetOptions {
  /** Retries allowed per request seen in the window. @default 0.2 */
  ratio?: number;
  /** Retries allowed per second on top, so a quiet or fresh pool can still retry. @default 10 */
  minPerSecond?: number;
  /** How long a request or retry counts. @default 10000 */
  windowMs?: number;
  /** Milliseconds, monotonic. @default performance.now */
  now?: () => number;
}

/** The window is kept as this many slots; each expires whole, like tower's buckets. */
const SLOTS = 10;

export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #slotMs: number;
  readonly #now: () => number;
  readonly #requests = new Float64Array(SLOTS);
  readonly #retries = new Float64Array(SLOTS);
  #requestTotal = 0;
  #retryTotal = 0;
  #slot = 0;
  #slotEnds: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? 0.2;
    const minPerSecond = options.minPerSecond ?? 10;
    const windowMs = options.windowMs ?? 10_000;
    if (!(this.#ratio >= 0)) throw new RangeError(`ratio must be >= 0, got ${this.#ratio}`);
    if (!(minPerSecond >= 0)) throw new RangeError(`minPerSecond must be >= 0, got ${minPerSecond}`);
    if (!(windowMs >= SLOTS)) throw new RangeError(`windowMs must be >= ${SLOTS}, got ${windowMs}`);
    this.#floor = (minPerSecond * windowMs) / 1000;
    this.#slotMs = windowMs / SLOTS;
    this.#now = options.now ?? (() => performance.now());
    this.#slotEnds = this.#now() + this.#slotMs;
  }

  /** Retries still allowed now (for metrics and tests). */
  get remaining(): number {
    this.#advance();
    return Math.max(0, Math.floor(this.#floor + this.#ratio * this.#requestTotal - this.#retryTotal));
  }

  /** A request entered the pool (its first attempt). */
  deposit(): void {
    this.#advance();
    this.#requests[this.#slot] = (this.#requests[this.#slot] as number) + 1;
    this.#requestTotal += 1;
  }

  /** May a request be tried again now? True spends one retry of the budget. */
  tryWithdraw(): boolean {
    this.#advance();
    if (this.#retryTotal + 1 > this.#floor + this.#ratio * this.#requestTotal) return false;
    this.#retries[this.#slot] = (this.#retries[this.#slot] as number) + 1;
    this.#retryTotal += 1;
    return true;
  }

  /** Expires the slots that fell out of the window. */
  #advance(): void {
    const now = this.#now();
    if (now < this.#slotEnds) return;
    const crossed = Math.floor((now - this.#slotEnds) / this.#slotMs) + 1;
    this.#slotEnds += crossed * this.#slotMs;
    for (let step = 0; step < Math.min(crossed, SLOTS); step++) {
      this.#slot = (this.#slot + 1) % SLOTS;
      this.#requestTotal -= this.#requests[this.#slot] as number;
      this.#retryTotal -= this.#retries[this.#slot] as number;
      this.#requests[this.#slot] = 0;
      this.#retries[this.#slot] = 0;
    }
  }
}
