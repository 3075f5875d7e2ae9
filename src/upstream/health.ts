// Health with hysteresis: one passive result (a real request) never flips a replica, a run
// of them does. An active probe that fails is decisive: the probe is cheap and answered by
// the replica's own event loop, so a miss means a process that is not serving, and it leaves
// the pool at once. Coming back always takes a run of successes, of either kind.

export interface HealthOptions {
  /**
   * Consecutive failures that make a healthy replica unhealthy: one refused connection can be
   * a blip (a full accept queue), three in a row is a replica that is not serving.
   * @default 3
   */
  unhealthyAfter?: number;
  /**
   * Consecutive successes that make an unhealthy replica healthy again. More than one, so a
   * replica stalling on and off (a blocked event loop) can't flap back in on one lucky probe;
   * no more than two, since the others carry its share meanwhile. (HAProxy's rise 2 / fall 3.)
   * An unhealthy replica gets no requests, so only active probes bring it back.
   * @default 2
   */
  healthyAfter?: number;
}

function threshold(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export class Health {
  readonly #unhealthyAfter: number;
  readonly #healthyAfter: number;
  // Starts healthy: the supervisor adds a replica to its pool only once the process reports
  // that it listens, so its first requests need no probation.
  #healthy = true;
  /** Results in a row that disagree with `#healthy`; one that agrees resets it. */
  #streak = 0;

  constructor(options: HealthOptions = {}) {
    this.#unhealthyAfter = threshold('unhealthyAfter', options.unhealthyAfter ?? 3);
    this.#healthyAfter = threshold('healthyAfter', options.healthyAfter ?? 2);
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** A failed active probe: unhealthy now, whatever the streak; true when it flipped `healthy`. */
  failNow(): boolean {
    this.#streak = 0;
    if (!this.#healthy) return false;
    this.#healthy = false;
    return true;
  }

  /** Counts one result; true when it flipped `healthy`. */
  record(success: boolean): boolean {
    if (success === this.#healthy) {
      this.#streak = 0;
      return false;
    }
    this.#streak += 1;
    if (this.#streak < (this.#healthy ? this.#unhealthyAfter : this.#healthyAfter)) return false;
    this.#healthy = success;
    this.#streak = 0;
    return true;
  }
}
