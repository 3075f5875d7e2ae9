// Requests (or calls) in flight, and their time-weighted mean since the last reading: the
// autoscaler's in-flight signal. A point sample every 250 ms would be noise.

import { performance } from 'node:perf_hooks';

export class InFlightMeter {
  #now = 0;
  /** ∫ in-flight dt since `#since`, in request·ms. */
  #area = 0;
  #lastChange = performance.now();
  #since = this.#lastChange;

  get current(): number {
    return this.#now;
  }

  change(by: 1 | -1): void {
    const now = performance.now();
    this.#area += this.#now * (now - this.#lastChange);
    this.#lastChange = now;
    this.#now += by;
  }

  /** The mean since the last call, and a new window from now. */
  takeMean(): number {
    const now = performance.now();
    this.#area += this.#now * (now - this.#lastChange);
    this.#lastChange = now;
    const elapsed = now - this.#since;
    const mean = elapsed > 0 ? this.#area / elapsed : this.#now;
    this.#area = 0;
    this.#since = now;
    return mean;
  }
}
