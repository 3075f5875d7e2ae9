// When to restart a process that exited on its own, and when to stop trying. Pure policy:
// no timers and no processes, only the clock and the random source it is given, so every
// rule below is tested with fake time (backoff.test.ts).
//
// The rules are pm2's and Erlang/OTP's, combined:
// - exponential back-off (pm2's exp_backoff_restart_delay): a replica that crashes at boot
//   (a missing env var, a dependency down) is retried at 0.1 s, 0.2 s, 0.4 s … up to 10 s,
//   so a broken service costs one boot every 10 s instead of a core;
// - reset after a stable run (pm2 resets after 30 s up): a replica that served for a while
//   and then crashed is restarted at once, not after the last long delay;
// - a crash-loop guard (Erlang's intensity/period): more than `maxCrashes` exits within
//   `crashWindowMs` and the process is given up and reported. Every exit counts, stable or
//   not, as in Erlang, so a replica crashing every 11 s is not retried forever either.

export interface RestartBackoffOptions {
  /** Delay before the first restart after a stable run. @default 100 */
  initialDelayMs?: number;
  /** Upper bound of any delay, jitter included. @default 10_000 */
  maxDelayMs?: number;
  /** Each consecutive crash multiplies the delay by this. @default 2 */
  factor?: number;
  /**
   * Up to this fraction of each delay is taken off at random, so replicas that crashed
   * together (their database went away) do not all restart in the same millisecond.
   * Taken off, never added, so delays never pass `maxDelayMs` and still grow at each
   * crash whenever `factor × (1 − jitter) > 1`. @default 0.2
   */
  jitter?: number;
  /** A run at least this long counts as healthy: back-off starts again from the beginning. @default 10_000 */
  stableAfterMs?: number;
  /** More exits than this within `crashWindowMs` and the process is given up. @default 10 */
  maxCrashes?: number;
  /** @default 60_000 */
  crashWindowMs?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
  /** A number in [0, 1). @default Math.random */
  random?: () => number;
}

export type RestartDecision =
  /** `attempt` counts consecutive crashes since the last stable run, from 1. */
  { action: 'restart'; delayMs: number; attempt: number } | { action: 'give-up'; crashes: number; windowMs: number };

export class RestartBackoff {
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #stableAfterMs: number;
  readonly #maxCrashes: number;
  readonly #crashWindowMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #startedAt: number | undefined;
  #consecutive = 0;
  /** When each exit within the window happened, oldest first. */
  #crashes: number[] = [];

  constructor(options: RestartBackoffOptions = {}) {
    this.#initialDelayMs = nonNegative('initialDelayMs', options.initialDelayMs ?? 100);
    this.#maxDelayMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 10_000);
    this.#factor = options.factor ?? 2;
    if (!(this.#factor >= 1)) throw new RangeError(`factor must be at least 1, got ${this.#factor}`);
    this.#jitter = options.jitter ?? 0.2;
    if (!(this.#jitter >= 0 && this.#jitter <= 1))
      throw new RangeError(`jitter must be in [0, 1], got ${this.#jitter}`);
    this.#stableAfterMs = nonNegative('stableAfterMs', options.stableAfterMs ?? 10_000);
    this.#maxCrashes = nonNegative('maxCrashes', options.maxCrashes ?? 10);
    this.#crashWindowMs = nonNegative('crashWindowMs', options.crashWindowMs ?? 60_000);
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  /** Call when the process has been (re)started: its uptime is measured from here. */
  started(): void {
    this.#startedAt = this.#now();
  }

  /** Call when the process exited without being asked to; says what to do next. */
  exited(): RestartDecision {
    const now = this.#now();
    const uptime = this.#startedAt === undefined ? 0 : now - this.#startedAt;
    this.#startedAt = undefined;
    if (uptime >= this.#stableAfterMs) this.#consecutive = 0;
    this.#consecutive++;

    this.#crashes.push(now);
    const windowStart = now - this.#crashWindowMs;
    while (this.#crashes.length > 0 && this.#crashes[0]! <= windowStart) this.#crashes.shift();
    if (this.#crashes.length > this.#maxCrashes) {
      return { action: 'give-up', crashes: this.#crashes.length, windowMs: this.#crashWindowMs };
    }

    // Computed in steps rather than with ** so a long crash history cannot overflow to Infinity.
    let base = this.#initialDelayMs;
    for (let step = 1; step < this.#consecutive && base < this.#maxDelayMs; step++) base *= this.#factor;
    base = Math.min(base, this.#maxDelayMs);
    const delayMs = Math.round(base * (1 - this.#jitter * this.#random()));
    return { action: 'restart', delayMs, attempt: this.#consecutive };
  }

  /** Forgets every crash, e.g. when an operator restarts a process that was given up. */
  reset(): void {
    this.#startedAt = undefined;
    this.#consecutive = 0;
    this.#crashes = [];
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value))
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  return value;
}
